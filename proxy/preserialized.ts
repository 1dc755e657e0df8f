/**
 * Results whose JSON text is computed once and reused: the aggregated lists (1000 tools are
 * ~150 KB of JSON, and `JSON.stringify` of them was over half the proxy's CPU per cached
 * `tools/list`). A pre-serialized result is an ordinary result object (code that reads it sees
 * the same fields) carrying its JSON text under a non-enumerable symbol, so `JSON.stringify`
 * of it (e.g. on an SSE stream) still gives the same text and a copy made with spread does not
 * carry a text that might no longer match. `ProxyServerTransport` sends the text as the body of
 * a JSON answer instead of serializing the result again (docs/adr/0004-proxy-hot-path.md).
 * @module
 */

const TEXT = Symbol("vmcp.preserialized");

type AnyObject = Record<string, unknown>;

/** `value` marked with its JSON text; `json` must be `JSON.stringify(value)`. */
export function withJsonText<T extends AnyObject>(value: T, json: string): T {
  Object.defineProperty(value, TEXT, { value: json, enumerable: false });
  return value;
}

/** The JSON text a result was marked with, if any. */
export function jsonTextOf(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const text = (value as { [TEXT]?: unknown })[TEXT];
  return typeof text === "string" ? text : undefined;
}

/** Cached pages per list: any string is a valid keyset cursor, so a client cannot grow it. */
const MAX_PAGES_PER_LIST = 64;

/**
 * Caches the JSON text of list pages per source list (by identity: a rebuilt list is a new
 * array) and cursor. Entries go with their list (WeakMap).
 */
export class PageTextCache {
  readonly #byList = new WeakMap<readonly unknown[], Map<string, string>>();

  /** `page` marked with its JSON text, computed on the first request for (`list`, `cursor`). */
  mark<T extends AnyObject>(list: readonly unknown[], cursor: string | undefined, page: T): T {
    let texts = this.#byList.get(list);
    if (!texts) this.#byList.set(list, texts = new Map());
    const key = cursor ?? "";
    let text = texts.get(key);
    if (text === undefined) {
      text = JSON.stringify(page);
      if (texts.size < MAX_PAGES_PER_LIST) texts.set(key, text);
    }
    return withJsonText(page, text);
  }
}
