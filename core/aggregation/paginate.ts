/**
 * Keyset pagination for list results, with opaque base64url cursors.
 * @module
 */

/** One page of a list. */
export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass it back unchanged to get them. */
  nextCursor?: string;
}

/** A cursor that this server did not produce. Carries JSON-RPC code -32602 (invalid params). */
export class InvalidCursorError extends Error {
  /** JSON-RPC "Invalid params"; the MCP SDK sends a thrown error's numeric `code` as is. */
  readonly code = -32602;
  constructor(cursor: string) {
    super(
      `Invalid cursor ${
        JSON.stringify(cursor.length > 80 ? cursor.slice(0, 80) + "…" : cursor)
      }: ` +
        "pass the nextCursor of the previous page unchanged, or omit it for the first page",
    );
    this.name = "InvalidCursorError";
  }
}

function defaultKey(item: unknown): string {
  const o = item as { name?: unknown; uri?: unknown; uriTemplate?: unknown };
  for (const k of [o.name, o.uri, o.uriTemplate]) if (typeof k === "string") return k;
  throw new TypeError("paginate: item has no string name, uri or uriTemplate; pass keyOf");
}

function encode(key: string): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ k: key }));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decode(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError(cursor);
  try {
    const bin = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (
      parsed !== null && typeof parsed === "object" &&
      typeof (parsed as { k?: unknown }).k === "string"
    ) return (parsed as { k: string }).k;
  } catch {
    // fall through
  }
  throw new InvalidCursorError(cursor);
}

/**
 * Returns the page after `cursor` (the first page when `cursor` is undefined).
 *
 * Keyset cursors: a cursor holds the key of the last item served, so a list that changes
 * between requests neither repeats nor skips items that stayed. `items` must be sorted
 * ascending (code-point order) by key, as every `AggregatedView` list is.
 * @param pageSize maximum items per page, an integer ≥ 1.
 * @param keyOf the sort key; defaults to `name`, else `uri`, else `uriTemplate`.
 * @throws InvalidCursorError for a cursor not produced here (the proxy answers -32602).
 * @throws RangeError for a pageSize that is not a positive integer.
 */
export function paginate<T>(
  items: readonly T[],
  cursor: string | undefined,
  pageSize: number,
  keyOf: (item: T) => string = defaultKey,
): Page<T> {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`paginate: pageSize must be an integer ≥ 1, got ${pageSize}`);
  }
  let start = 0;
  if (cursor !== undefined) {
    const after = decode(cursor);
    let lo = 0, hi = items.length; // first index whose key > after
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyOf(items[mid]!) > after) hi = mid;
      else lo = mid + 1;
    }
    start = lo;
  }
  const page = items.slice(start, start + pageSize);
  if (start + pageSize < items.length) {
    return { items: page, nextCursor: encode(keyOf(page[page.length - 1]!)) };
  }
  return { items: page };
}
