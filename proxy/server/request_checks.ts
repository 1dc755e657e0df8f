/**
 * Cheap checks of a client's JSON-RPC body, before anything walks it recursively:
 *
 * - `exceedsJsonDepth(text, max)`: an iterative scan of the raw text counting `[` and `{`
 *   outside strings (strings are skipped with `indexOf`), so a body nested thousands of levels
 *   deep is refused before `JSON.parse`, zod or the SDK recurse into it (they overflow the stack
 *   at ~4,000 levels). Bodies shorter than `2 * max` cannot exceed `max` and are not scanned.
 * - `invalidMessage(body)`: an empty batch (JSON-RPC: Invalid Request) and argument types the
 *   proxy relays (`tools/call`/`prompts/get` `params.arguments` must be an object).
 *
 * Both answer the response to send, or undefined.
 * @module
 */

/** The deepest nesting of arrays and objects a request body may have. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** True when `text` (JSON) nests arrays/objects deeper than `max` levels. Iterative. */
export function exceedsJsonDepth(text: string, max: number): boolean {
  const n = text.length;
  if (n <= 2 * max) return false;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: the next quote not preceded by an odd number of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return false; // unterminated: JSON.parse refuses it
        let slashes = 0;
        for (let j = end - 1; text.charCodeAt(j) === BACKSLASH; j--) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

function invalidRequest(status: number, message: string, id: unknown = null): Response {
  return Response.json({ jsonrpc: "2.0", error: { code: -32600, message }, id }, { status });
}

/** The 400 answer for a body nested deeper than `max`. */
export function tooDeep(max: number): Response {
  return invalidRequest(
    400,
    `Invalid Request: the body nests arrays/objects deeper than ${max} levels (the limit is ${max})`,
  );
}

const WITH_ARGUMENTS = new Set(["tools/call", "prompts/get"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;
}

function checkOne(msg: unknown): { id: unknown; message: string } | undefined {
  if (!isObject(msg) || msg.id === undefined) return undefined;
  const method = msg.method;
  if (typeof method !== "string" || !WITH_ARGUMENTS.has(method)) return undefined;
  const params = msg.params;
  if (!isObject(params) || !("arguments" in params)) return undefined;
  const args = params.arguments;
  if (args === undefined || isObject(args)) return undefined;
  return {
    id: msg.id,
    message: `Invalid params: ${method} params.arguments must be an object (name → value), got ${
      describe(args)
    }`,
  };
}

/**
 * The answer for a structurally invalid message (empty batch: 400 / -32600; wrong argument
 * type: 200 / -32602 with the request's id, as any invalid-params error), else undefined.
 */
export function invalidMessage(body: unknown): Response | undefined {
  if (Array.isArray(body)) {
    if (body.length === 0) {
      return invalidRequest(
        400,
        "Invalid Request: an empty batch (a JSON-RPC batch needs at least one message)",
      );
    }
    for (const m of body) {
      const bad = checkOne(m);
      if (bad) return invalidParams(bad.id, bad.message, 400);
    }
    return undefined;
  }
  const bad = checkOne(body);
  return bad ? invalidParams(bad.id, bad.message, 200) : undefined;
}

function invalidParams(id: unknown, message: string, status: number): Response {
  return Response.json(
    { jsonrpc: "2.0", id, error: { code: -32602, message } },
    { status },
  );
}
