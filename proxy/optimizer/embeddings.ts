/**
 * A client of an OpenAI-compatible embeddings API (`POST <url>/embeddings`, body
 * `{model, input: [...], encoding_format: "float", dimensions?}`, answer `{data: [{index,
 * embedding}]}`): one request per batch, bounded in time (`timeoutMs`, and the caller's signal),
 * in size (at most `MAX_BATCH` inputs of at most `MAX_INPUT_CHARS` each; answers larger than
 * `MAX_ANSWER_BYTES` are refused) and checked (one vector per input, all of one length ≤ 8192).
 * @module
 */

/** Inputs per request at most. */
export const MAX_BATCH = 64;
/** Characters of one input at most (longer text is cut). */
export const MAX_INPUT_CHARS = 2000;
/** Bytes of one answer at most. */
export const MAX_ANSWER_BYTES = 64 << 20;
const MAX_DIMENSIONS = 8192;

export interface EmbeddingClientOptions {
  /** Base URL; requests go to `<url>/embeddings`. */
  url: string;
  model: string;
  /** Asked-for vector size (OpenAI `dimensions`). */
  dimensions?: number | undefined;
  timeoutMs: number;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Why an embeddings request failed (HTTP status, timeout, malformed answer). */
export class EmbeddingError extends Error {
  override name = "EmbeddingError";
}

export class EmbeddingClient {
  readonly #o: EmbeddingClientOptions;
  readonly #endpoint: string;

  constructor(opts: EmbeddingClientOptions) {
    if (!(opts.timeoutMs > 0)) throw new RangeError(`Invalid timeoutMs "${opts.timeoutMs}"`);
    this.#o = opts;
    this.#endpoint = `${opts.url.replace(/\/+$/, "")}/embeddings`;
  }

  /** The model asked for (part of every cache key: another model, other vectors). */
  get model(): string {
    return `${this.#o.model}/${this.#o.dimensions ?? ""}`;
  }

  /** One vector per text, in order. Throws `EmbeddingError` (or the signal's reason). */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    if (texts.length > MAX_BATCH) {
      throw new RangeError(`Too many inputs "${texts.length}": at most ${MAX_BATCH} per request`);
    }
    const body: Record<string, unknown> = {
      model: this.#o.model,
      input: texts.map((t) => t.length > MAX_INPUT_CHARS ? t.slice(0, MAX_INPUT_CHARS) : t),
      encoding_format: "float",
    };
    if (this.#o.dimensions !== undefined) body.dimensions = this.#o.dimensions;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#o.apiKey) headers.authorization = `Bearer ${this.#o.apiKey}`;
    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    const res = await (this.#o.fetch ?? fetch)(this.#endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    }).catch((err) => {
      if (signal?.aborted) throw signal.reason;
      const why = timeout.aborted ? `no answer within ${this.#o.timeoutMs} ms` : String(err);
      throw new EmbeddingError(`Embeddings request to ${this.#endpoint} failed: ${why}`);
    });
    const text = await readBounded(res, timeout).catch((err) => {
      if (err instanceof EmbeddingError) throw err;
      throw new EmbeddingError(`Embeddings answer of ${this.#endpoint} unreadable: ${err}`);
    });
    if (!res.ok) {
      throw new EmbeddingError(
        `Embeddings request to ${this.#endpoint} answered HTTP ${res.status}: ${
          text.slice(0, 200)
        }`,
      );
    }
    return parseAnswer(text, texts.length, this.#endpoint);
  }
}

async function readBounded(res: Response, signal: AbortSignal): Promise<string> {
  const length = Number(res.headers.get("content-length") ?? "0");
  if (length > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw new EmbeddingError(`Embeddings answer too large: ${length} bytes`);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_ANSWER_BYTES) {
        await reader.cancel();
        throw new EmbeddingError(`Embeddings answer too large: over ${MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) throw new EmbeddingError("Embeddings answer not read in time");
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function parseAnswer(text: string, count: number, endpoint: string): Float32Array[] {
  const bad = (why: string) => new EmbeddingError(`Embeddings answer of ${endpoint} ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad("is not JSON");
  }
  const data = (json as { data?: unknown })?.data;
  if (!Array.isArray(data) || data.length !== count) {
    throw bad(`has ${Array.isArray(data) ? data.length : "no"} vectors for ${count} inputs`);
  }
  const out: (Float32Array | undefined)[] = new Array(count);
  let dims = -1;
  for (const d of data) {
    const index = (d as { index?: unknown })?.index;
    const v = (d as { embedding?: unknown })?.embedding;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= count) {
      throw bad(`has an entry with index "${index}"`);
    }
    if (!Array.isArray(v) || v.length === 0 || v.length > MAX_DIMENSIONS) {
      throw bad(`has an embedding that is not a float array of 1 to ${MAX_DIMENSIONS} numbers`);
    }
    if (dims === -1) dims = v.length;
    if (v.length !== dims) throw bad(`mixes vector sizes ${dims} and ${v.length}`);
    const vec = Float32Array.from(v as number[]);
    if (vec.some((x) => !Number.isFinite(x))) throw bad("has a non-finite number");
    out[index] = normalize(vec);
  }
  if (out.some((v) => v === undefined)) throw bad("misses an index");
  return out as Float32Array[];
}

/** `v` scaled to length 1 (in place); a zero vector stays zero. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const n = Math.sqrt(sum);
  if (n > 0) { for (let i = 0; i < v.length; i++) v[i]! /= n; }
  return v;
}

/** Dot product (= cosine similarity of normalized vectors); 0 when the sizes differ. */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
