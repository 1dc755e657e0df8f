/**
 * Tool search over the aggregated catalogue: keywords (BM25, lexical_index.ts) blended with
 * embeddings (semantic_index.ts) when `optimizer.embeddingService` is set.
 *
 * Scores: a query's keyword scores are divided by its best keyword score; its cosine
 * similarities are min-max normalized over the best `POOL` tools (1 for the nearest, 0 for the
 * last of them; tools farther than `semanticDistanceThreshold` get none), and the two are
 * blended `(1 - r) * keyword + r * semantic` with `r = hybridSearchSemanticRatio` (min-max
 * beat raw cosine and reciprocal-rank fusion slightly on the bench: docs/adr/0013). Without
 * embeddings (or when the service fails) the score is the normalized keyword score. Ties go to
 * the name that sorts first.
 *
 * `sync` follows the catalogue (proxy/runtime.ts calls it on every recompute; `find` also
 * syncs when handed another list): a tool that left the list is never found. The keyword index
 * is (re)built without holding the event loop: the work (comparing and analyzing tools, then
 * applying the result) runs in slices of `sliceMs` with a pause between them, one build at a time.
 * Each `sync` is a new generation; a plan superseded by a newer catalogue is dropped at its next
 * pause and the newest is planned instead (an apply, once begun, finishes). Until the newest
 * build is applied, `find` answers from the last complete index, filtered to and described by
 * the newest catalogue; it waits only for the first index and for an apply in progress.
 * @module
 */
import type { Tool } from "../../core/sdk.ts";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { OptimizerSettings } from "../../crds/optimizer.ts";
import { parseDuration } from "../../core/duration.ts";
import { requiredEnv } from "../../core/required_env.ts";
import { EmbeddingClient } from "./embeddings.ts";
import { LexicalIndex, type PlanSlicing } from "./lexical_index.ts";
import { SemanticIndex } from "./semantic_index.ts";

export interface ToolMatch {
  tool: Tool;
  score: number;
}

export interface ToolSearchOptions {
  log: Logger;
  clock?: Clock;
  /** Environment (`embeddingApiKeyEnv`). @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Index concept terms (tokenize.ts); the bench turns them off to compare. @default true */
  concepts?: boolean;
  /** How index builds share the event loop (tests inject their own). */
  scheduler?: BuildScheduler;
}

/** How an index build shares the event loop. */
export interface BuildScheduler {
  /** Milliseconds of work between pauses. @default 8 */
  sliceMs?: number;
  /** A monotonic clock in milliseconds. @default performance.now */
  now?(): number;
  /** Gives the event loop back. @default a `setTimeout(0)` */
  pause?(): Promise<void>;
}

const defaultPause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Candidates taken from each side before blending, at least. */
const POOL = 50;

export class ToolSearch {
  readonly settings: OptimizerSettings;
  readonly #lexical: LexicalIndex;
  readonly #semantic: SemanticIndex | undefined;
  readonly #log: Logger;
  readonly #slicing: PlanSlicing;
  #source: readonly Tool[] | undefined;
  /** The newest catalogue by name (what may be found, and how it is described). */
  #byName = new Map<string, Tool>();
  /** The newest catalogue's generation, and the last one applied to the index. */
  #generation = 0;
  #applied = 0;
  #building = false;
  #closed = false;
  /** The apply in progress: searches wait for it (the index is partly updated meanwhile). */
  #applying: Promise<unknown> | undefined;
  /** Who waits for a generation to be applied (or superseded by an applied one). */
  #waiters: { generation: number; resolve: () => void }[] = [];

  /** Throws when `embeddingApiKeyEnv` names a variable that is not set. */
  constructor(settings: OptimizerSettings, opts: ToolSearchOptions) {
    this.settings = settings;
    this.#lexical = new LexicalIndex({ concepts: opts.concepts ?? true });
    this.#log = opts.log;
    const sch = opts.scheduler ?? {};
    this.#slicing = {
      ms: sch.sliceMs ?? 8,
      now: sch.now ?? (() => performance.now()),
      pause: sch.pause ?? defaultPause,
      superseded: () => false, // per build, below
    };
    const e = settings.embeddings;
    const apiKey = e?.apiKeyEnv
      ? requiredEnv("optimizer.embeddingApiKeyEnv", e.apiKeyEnv, opts.env)
      : undefined;
    // Ratio 0: keywords alone; no tool is embedded (that would only cost requests).
    if (e && settings.hybridSearchSemanticRatio > 0) {
      const client = new EmbeddingClient({
        url: e.url,
        model: e.model,
        dimensions: e.dimensions,
        timeoutMs: parseDuration(e.timeout),
        apiKey,
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
      });
      this.#semantic = new SemanticIndex(client, {
        log: opts.log,
        ...(opts.clock ? { clock: opts.clock } : {}),
      });
    }
  }

  /** The semantic index (absent without embeddings or with `hybridSearchSemanticRatio` 0). */
  get semantic(): SemanticIndex | undefined {
    return this.#semantic;
  }

  /** Tools searchable now. */
  get size(): number {
    return this.#lexical.size;
  }

  /**
   * Makes the index hold `tools` (the same array again: nothing to do). Returns at once; the
   * index follows in the background (`settled`).
   */
  sync(tools: readonly Tool[]): void {
    if (tools === this.#source) return;
    this.#source = tools;
    this.#byName = new Map(tools.map((t) => [t.name, t]));
    this.#semantic?.sync(tools);
    this.#generation++;
    void this.#build();
  }

  /**
   * Builds until the index holds the newest catalogue; one build at a time. A plan (comparing
   * and analyzing) is dropped when a newer catalogue comes; applying one is never left half done.
   */
  async #build(): Promise<void> {
    if (this.#building) return;
    this.#building = true;
    try {
      while (this.#applied < this.#generation && !this.#closed) {
        const generation = this.#generation;
        const plan = await this.#lexical.plan(this.#source!, {
          ...this.#slicing,
          superseded: () => generation !== this.#generation || this.#closed,
        });
        if (plan === undefined || this.#closed) continue;
        const applied = this.#lexical.applyInSlices(plan, this.#slicing);
        this.#applying = applied;
        await applied;
        this.#applying = undefined;
        this.#applied = generation;
        const done = this.#waiters.filter((w) => w.generation <= generation);
        this.#waiters = this.#waiters.filter((w) => w.generation > generation);
        for (const w of done) w.resolve();
      }
    } catch (e) {
      this.#log.error("tool search index not rebuilt", { error: String(e) });
    } finally {
      this.#building = false;
      this.#applying = undefined;
    }
  }

  /** Resolves once the index holds the newest catalogue given to `sync` (or a newer one). */
  settled(): Promise<void> {
    const generation = this.#generation;
    if (this.#applied >= generation) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ generation, resolve }));
  }

  /** Whether the index holds the newest catalogue given to `sync`. */
  get current(): boolean {
    return this.#applied === this.#generation;
  }

  /**
   * The best `limit` matches of `query` among the tools `keep` accepts (all without it).
   */
  async find(
    query: string,
    opts: { limit: number; keep?: (name: string) => boolean; signal?: AbortSignal },
  ): Promise<ToolMatch[]> {
    const { limit, keep } = opts;
    // Before the first index is complete there is nothing to answer from: wait for it; and
    // never answer from a half-applied change.
    if (this.#applied === 0 && this.#generation > 0) await this.settled();
    else if (this.#applying) await this.#applying.catch(() => {});
    const pool = Math.max(POOL, limit * 4);
    const lexical = this.#lexical.search(query, pool, keep);
    const ratio = this.settings.hybridSearchSemanticRatio;
    const sims = this.#semantic ? await this.#semantic.similarities(query, opts.signal) : undefined;
    const scores = new Map<string, number>();
    const lexMax = lexical[0]?.score ?? 0;
    const lexWeight = sims ? 1 - ratio : 1;
    for (const h of lexical) scores.set(h.name, lexMax > 0 ? lexWeight * (h.score / lexMax) : 0);
    if (sims) {
      const maxDistance = this.settings.semanticDistanceThreshold;
      const near: [string, number][] = [];
      for (const [name, sim] of sims) {
        if (1 - sim > maxDistance || sim <= 0 || (keep && !keep(name))) continue;
        near.push([name, sim]);
      }
      near.sort((a, b) => b[1] - a[1]);
      const top = near.slice(0, pool);
      const simMax = top[0]?.[1] ?? 0;
      const span = simMax - (top.at(-1)?.[1] ?? 0);
      for (const [name, sim] of top) {
        const semantic = span > 0 ? (sim - simMax + span) / span : 1;
        scores.set(name, (scores.get(name) ?? 0) + ratio * semantic);
      }
    }
    const ranked = [...scores].filter(([name]) => this.#byName.has(name))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit);
    return ranked.map(([name, score]) => ({
      tool: this.#byName.get(name)!,
      score: Math.round(score * 1000) / 1000,
    }));
  }

  close(): void {
    this.#closed = true; // drops a build in progress
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    this.#semantic?.close();
  }
}
