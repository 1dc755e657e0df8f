/**
 * A small BM25F index for incremental catalogues (docs/adr/0013-tool-search-index.md says why it
 * is not a library's): documents are weighted bags of terms (each field's term counts times the
 * field's boost, the length likewise), postings are per-term maps so a document leaves in
 * O(its terms), and a query sums `idf × tf × (k1 + 1) / (tf + k1 × (1 − b + b × len / avgLen))`
 * into a typed array over only the documents its terms touch, then keeps the best `limit`.
 * @module
 */

/** BM25 term-frequency saturation. */
const K1 = 1.2;
/** BM25 length normalization. */
const B = 0.75;

export interface Bm25Hit {
  id: number;
  score: number;
}

export class Bm25Index {
  /** term → (doc id → weighted term frequency). */
  readonly #postings = new Map<string, Map<number, number>>();
  /** doc id → its terms (to remove it) and weighted length. */
  readonly #docs = new Map<number, { terms: string[]; length: number }>();
  #totalLength = 0;
  #scores = new Float64Array(1024);

  get size(): number {
    return this.#docs.size;
  }

  /** Adds document `id` with `fields`: [terms, boost] pairs. Replaces an existing `id`. */
  add(id: number, fields: readonly (readonly [readonly string[], number])[]): void {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`Invalid document id "${id}"`);
    if (this.#docs.has(id)) this.remove(id);
    const tf = new Map<string, number>();
    let length = 0;
    for (const [terms, boost] of fields) {
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + boost);
      length += terms.length * boost;
    }
    for (const [t, f] of tf) {
      let p = this.#postings.get(t);
      if (!p) this.#postings.set(t, p = new Map());
      p.set(id, f);
    }
    this.#docs.set(id, { terms: [...tf.keys()], length });
    this.#totalLength += length;
    if (id >= this.#scores.length) {
      this.#scores = new Float64Array(Math.max(id + 1, this.#scores.length * 2));
    }
  }

  remove(id: number): void {
    const doc = this.#docs.get(id);
    if (!doc) return;
    for (const t of doc.terms) {
      const p = this.#postings.get(t);
      p?.delete(id);
      if (p?.size === 0) this.#postings.delete(t);
    }
    this.#docs.delete(id);
    this.#totalLength -= doc.length;
  }

  /**
   * The best `limit` documents for `terms` (each counted once), best first; `keep` drops ids
   * before they count. Ties: lower id first.
   */
  search(terms: readonly string[], limit: number, keep?: (id: number) => boolean): Bm25Hit[] {
    const n = this.#docs.size;
    if (n === 0 || limit <= 0) return [];
    const avg = this.#totalLength / n || 1;
    const scores = this.#scores;
    const touched: number[] = [];
    for (const t of new Set(terms)) {
      const p = this.#postings.get(t);
      if (!p) continue;
      const idf = Math.log(1 + (n - p.size + 0.5) / (p.size + 0.5));
      for (const [id, f] of p) {
        const len = this.#docs.get(id)!.length;
        const s = idf * (f * (K1 + 1)) / (f + K1 * (1 - B + B * len / avg));
        if (scores[id] === 0) touched.push(id);
        scores[id]! += s;
      }
    }
    // The best `limit`, kept sorted (limit is small: binary insertion beats sorting all).
    const best: Bm25Hit[] = [];
    for (const id of touched) {
      const score = scores[id]!;
      scores[id] = 0;
      if (best.length === limit && !better(score, id, best[limit - 1]!)) continue;
      if (keep && !keep(id)) continue;
      let lo = 0, hi = best.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (better(score, id, best[mid]!)) hi = mid;
        else lo = mid + 1;
      }
      best.splice(lo, 0, { id, score });
      if (best.length > limit) best.pop();
    }
    return best;
  }
}

function better(score: number, id: number, than: Bm25Hit): boolean {
  return score > than.score || (score === than.score && id < than.id);
}
