/**
 * The semantic side of tool search: one embedding per tool, from an OpenAI-compatible API
 * (embeddings.ts), and the cosine similarity of a query to each.
 *
 * - Vectors are cached by a hash of the model and the exact text embedded (name, title,
 *   description, parameters): a tool is embedded again only when that text changes, not when
 *   its backend goes down and comes back, the config is reloaded or a `list_changed` brings
 *   the same tools (stacklok/toolhive#5847 re-embedded everything per session).
 * - `sync` never waits: missing vectors are fetched in the background, `MAX_BATCH` inputs per
 *   request, one request at a time. Until a tool has its vector it is found by keywords alone.
 *   After a failure the fill pauses `RETRY_MS`.
 * - Bounded: at most `maxCached` tool vectors (least recently synced dropped first; tools of a
 *   catalogue beyond the first `maxCached` are found by keywords alone),
 *   `QUERY_CACHE` query vectors and `MAX_PENDING_QUERIES` query embeddings in flight (a query
 *   beyond that is answered by keywords alone, with the warning below).
 * - A failed query embedding returns undefined (the caller falls back to keywords) and is warned
 *   about at most once a minute.
 * @module
 */
import { createHash } from "node:crypto";
import type { Tool } from "../../core/sdk.ts";
import type { Clock } from "../../core/clock.ts";
import { systemClock } from "../../core/clock.ts";
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import { dot, type EmbeddingClient, MAX_BATCH, MAX_INPUT_CHARS } from "./embeddings.ts";
import { paramsOf } from "./lexical_index.ts";

/** Pause of the background fill after a failed request. */
export const RETRY_MS = 30_000;
/** Query vectors kept. */
const QUERY_CACHE = 256;
/** Query embeddings requested and not answered yet, at most (over all callers). */
export const MAX_PENDING_QUERIES = 16;
const WARN_EVERY_MS = 60_000;

export interface SemanticIndexOptions {
  log: Logger;
  clock?: Clock;
  /** Tool vectors kept at most. @default 50000 */
  maxCached?: number;
}

/** The text embedded for a tool (what its cache key hashes). */
export function embeddingText(tool: Tool): string {
  const parts = [tool.name];
  const title = tool.title ?? (tool.annotations?.title as string | undefined);
  if (title) parts.push(title);
  if (tool.description) parts.push(tool.description);
  const params = paramsOf(tool.inputSchema);
  if (params) parts.push(`Parameters: ${params}`);
  const text = parts.join("\n");
  return text.length > MAX_INPUT_CHARS ? text.slice(0, MAX_INPUT_CHARS) : text;
}

export class SemanticIndex {
  readonly #client: EmbeddingClient;
  readonly #clock: Clock;
  readonly #warn: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #max: number;
  /** Vectors by key (model + text hash), least recently synced first. */
  readonly #cache = new Map<string, Float32Array>();
  readonly #queries = new Map<string, Float32Array>();
  /** The current tools: name → [key, text]. */
  #current = new Map<string, { key: string; text: string }>();
  #filling: Promise<void> | undefined;
  #retryAt = 0;
  readonly #closed = new AbortController();
  /** Query embeddings in flight. */
  #pendingQueries = 0;
  /** Embeddings requests sent (tool batches and queries). */
  requests = 0;

  constructor(client: EmbeddingClient, opts: SemanticIndexOptions) {
    this.#client = client;
    this.#clock = opts.clock ?? systemClock;
    this.#max = opts.maxCached ?? 50_000;
    this.#warn = warnAtMostEvery(opts.log, WARN_EVERY_MS, () => this.#clock.now());
  }

  /** Tools of the last sync that have their vector now. */
  get ready(): number {
    let n = 0;
    for (const { key } of this.#current.values()) if (this.#cache.has(key)) n++;
    return n;
  }

  #key(text: string): string {
    return createHash("sha256").update(this.#client.model).update("\u0000").update(text)
      .digest("base64");
  }

  /** Makes the index follow `tools`; fetches missing vectors in the background. */
  sync(tools: readonly Tool[]): void {
    const next = new Map<string, { key: string; text: string }>();
    for (const tool of tools) {
      // The cache holds every current tool's vector, or a fill would evict what it just stored.
      if (next.size >= this.#max) break;
      const text = embeddingText(tool);
      const old = this.#current.get(tool.name);
      const key = old?.text === text ? old.key : this.#key(text);
      next.set(tool.name, { key, text });
      const v = this.#cache.get(key);
      if (v) { // most recently synced last
        this.#cache.delete(key);
        this.#cache.set(key, v);
      }
    }
    this.#current = next;
    this.#fill();
  }

  /** Resolves when no background fill runs (tests and the bench wait on it). */
  async idle(): Promise<void> {
    while (this.#filling) await this.#filling;
  }

  #fill(): void {
    if (this.#filling || this.#closed.signal.aborted) return;
    if (this.#clock.now() < this.#retryAt) return;
    const missing = this.#missing();
    if (missing.length === 0) return;
    this.#filling = this.#fillAll().finally(() => this.#filling = undefined);
  }

  #missing(): { key: string; text: string }[] {
    const seen = new Set<string>();
    const out: { key: string; text: string }[] = [];
    for (const e of this.#current.values()) {
      if (this.#cache.has(e.key) || seen.has(e.key)) continue;
      seen.add(e.key);
      out.push(e);
    }
    return out;
  }

  async #fillAll(): Promise<void> {
    for (;;) {
      const batch = this.#missing().slice(0, MAX_BATCH);
      if (batch.length === 0 || this.#closed.signal.aborted) return;
      try {
        this.requests++;
        const vectors = await this.#client.embed(batch.map((b) => b.text), this.#closed.signal);
        batch.forEach((b, i) => this.#store(this.#cache, b.key, vectors[i]!, this.#max));
      } catch (err) {
        if (this.#closed.signal.aborted) return;
        this.#retryAt = this.#clock.now() + RETRY_MS;
        this.#warn(
          "tool search: embedding tools failed; they are found by keywords until it works",
          {
            error: err instanceof Error ? err.message : String(err),
            retryInMs: RETRY_MS,
          },
        );
        return;
      }
    }
  }

  #store(map: Map<string, Float32Array>, key: string, v: Float32Array, max: number): void {
    map.delete(key);
    map.set(key, v);
    while (map.size > max) map.delete(map.keys().next().value!);
  }

  /**
   * Cosine similarity of `query` to each current tool with a vector (by name); undefined when
   * the query cannot be embedded now (the caller uses keywords alone).
   */
  async similarities(
    query: string,
    signal?: AbortSignal,
  ): Promise<Map<string, number> | undefined> {
    let q = this.#queries.get(query);
    if (!q) {
      if (this.#pendingQueries >= MAX_PENDING_QUERIES) {
        this.#warn("tool search: embedding the query failed; answered by keywords alone", {
          error: `${MAX_PENDING_QUERIES} query embeddings are pending already`,
        });
        return undefined;
      }
      try {
        this.requests++;
        this.#pendingQueries++;
        [q] = await this.#client.embed([query], signal);
      } catch (err) {
        if (signal?.aborted) throw err;
        this.#warn("tool search: embedding the query failed; answered by keywords alone", {
          error: err instanceof Error ? err.message : String(err),
        });
        return undefined;
      } finally {
        this.#pendingQueries--;
      }
      this.#store(this.#queries, query, q!, QUERY_CACHE);
    }
    this.#fill(); // vectors still missing (a paused fill resumes with traffic)
    const out = new Map<string, number>();
    for (const [name, { key }] of this.#current) {
      const v = this.#cache.get(key);
      if (v) out.set(name, dot(q!, v));
    }
    return out;
  }

  /** Stops the background fill. */
  close(): void {
    this.#closed.abort();
  }
}
