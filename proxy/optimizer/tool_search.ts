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
 * syncs when handed another list): a tool that left the list is never found.
 * @module
 */
import type { Tool } from "../../core/sdk.ts";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { OptimizerSettings } from "../../crds/optimizer.ts";
import { parseDuration } from "../../core/duration.ts";
import { EmbeddingClient } from "./embeddings.ts";
import { LexicalIndex } from "./lexical_index.ts";
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
}

/** Candidates taken from each side before blending, at least. */
const POOL = 50;

export class ToolSearch {
  readonly settings: OptimizerSettings;
  readonly #lexical: LexicalIndex;
  readonly #semantic: SemanticIndex | undefined;
  #source: readonly Tool[] | undefined;
  #byName = new Map<string, Tool>();

  /** Throws when `embeddingApiKeyEnv` names a variable that is not set. */
  constructor(settings: OptimizerSettings, opts: ToolSearchOptions) {
    this.settings = settings;
    this.#lexical = new LexicalIndex({ concepts: opts.concepts ?? true });
    const e = settings.embeddings;
    if (e) {
      let apiKey: string | undefined;
      if (e.apiKeyEnv) {
        apiKey = (opts.env ?? ((n) => Deno.env.get(n)))(e.apiKeyEnv);
        if (apiKey === undefined) {
          throw new Error(
            `Invalid optimizer.embeddingApiKeyEnv "${e.apiKeyEnv}": the environment variable is not set`,
          );
        }
      }
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

  /** The semantic index (absent without embeddings). */
  get semantic(): SemanticIndex | undefined {
    return this.#semantic;
  }

  /** Tools searchable now. */
  get size(): number {
    return this.#lexical.size;
  }

  /** Makes the index hold `tools` (the same array again: nothing to do). */
  sync(tools: readonly Tool[]): void {
    if (tools === this.#source) return;
    this.#source = tools;
    this.#lexical.sync(tools);
    this.#byName = new Map(tools.map((t) => [t.name, t]));
    this.#semantic?.sync(tools);
  }

  /**
   * The best `limit` matches of `query` among the tools `keep` accepts (all without it).
   */
  async find(
    query: string,
    opts: { limit: number; keep?: (name: string) => boolean; signal?: AbortSignal },
  ): Promise<ToolMatch[]> {
    const { limit, keep } = opts;
    const pool = Math.max(POOL, limit * 4);
    const lexical = this.#lexical.search(query, pool, keep);
    const ratio = this.settings.hybridSearchSemanticRatio;
    const sims = this.#semantic && ratio > 0
      ? await this.#semantic.similarities(query, opts.signal)
      : undefined;
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
    this.#semantic?.close();
  }
}
