/**
 * What audit events may hold of a request: credential-looking keys and values replaced by
 * `[redacted]`, and JSON text cut to a byte budget. Pure functions.
 *
 * - A value under a key that names a credential (`password`, `passwd`, `passphrase`, `secret`,
 *   `token`, `authorization`, `api_key`/`apiKey`, `bearer`, `credential`, `cookie`,
 *   `private_key`, `access_key`, `signature`) is redacted unless it is a number, a boolean or
 *   null (`max_tokens: 100` stays).
 * - Inside any string: JWT-shaped text (`eyJ….….…`), `Bearer …`/`Basic …` credentials,
 *   well-known API key shapes (`sk-…`, `ghp_…`, `xox?-…`, `AKIA…`), the password of a URL
 *   (`postgres://u:…@h`) and the value of a credential-named `key=value` / `key: value` pair
 *   (`?access_token=…`, `password: …`; whole numbers stay) are redacted.
 * - Serialization stops as soon as the budget is exceeded, so a 4 MB argument costs no more
 *   than the budget.
 * @module
 */

/** What replaces a redacted value. */
export const REDACTED = "[redacted]";

const SECRET_KEY =
  /passw(or)?d|passphrase|secret|token|authori[sz]ation|api[-_]?key|bearer|credential|cookie|private[-_]?key|access[-_]?key|signature/i;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const AUTH_SCHEME = /\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*/gi;
const API_KEY =
  /\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})/g;
/** `scheme://user:password@`: the password. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi;
/** `<credential name>=value` or `: value` (also quoted, as in JSON text): the value. */
const KEY_VALUE = new RegExp(
  `\\b(?<key>[\\w.-]*(?:${SECRET_KEY.source})[\\w.-]*)(?<sep>"?\\s*[=:]\\s*"?)(?<value>[^\\s&"',;#}\\]]+)`,
  "gi",
);
/** Cheap pre-check: only strings containing one of these can hold a credential shape. */
const MAYBE =
  /eyJ|bearer|basic|sk-|gh[pousr]_|xox|AKIA|:\/\/|passw|passphrase|secret|token|authori|key|credential|cookie|signature/i;
/** Nesting the bounded serializer follows (request bodies are limited to 64 anyway). */
const MAX_DEPTH = 64;

/** True when `key` names a credential. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** `text` with JWTs, bearer/basic credentials and known API key shapes replaced. */
export function redactText(text: string): string {
  if (!MAYBE.test(text)) return text;
  return text.replace(JWT, REDACTED).replace(AUTH_SCHEME, `$1 ${REDACTED}`).replace(
    API_KEY,
    REDACTED,
  ).replace(URL_PASSWORD, `$1${REDACTED}@`).replace(
    KEY_VALUE,
    (...m: unknown[]) => {
      const { key, sep, value } = m.at(-1) as { key: string; sep: string; value: string };
      // `Authorization: Bearer [redacted]` (AUTH_SCHEME) keeps its scheme.
      return value.startsWith("[redacted") || /^(\d+|bearer|basic)$/i.test(value)
        ? `${key}${sep}${value}`
        : `${key}${sep}${REDACTED}`;
    },
  );
}

/** The result of {@link boundedRedactedJson}. */
export interface BoundedJson {
  /** Redacted JSON text, at most `maxBytes` UTF-8 bytes (cut when `truncated`). */
  text: string;
  /** True when the full text was longer than `maxBytes`. */
  truncated: boolean;
}

class Budget extends Error {}

/**
 * Redacted JSON of `value`, cut to `maxBytes` UTF-8 bytes. Serialization stops once the text is
 * past the budget (a huge value costs about `maxBytes` of work).
 * @throws {RangeError} when `maxBytes` is not a positive integer
 */
export function boundedRedactedJson(value: unknown, maxBytes: number): BoundedJson {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }
  // Fast path: the engine's JSON.stringify with a redacting replacer that gives up (throws)
  // once the keys and strings seen alone exceed the budget.
  let seen = 0;
  const replacer = function (this: unknown, key: string, v: unknown): unknown {
    seen += key.length;
    if (typeof v === "string") {
      seen += v.length;
      if (seen > maxBytes) throw new Budget();
      return key !== "" && SECRET_KEY.test(key) ? REDACTED : redactText(v);
    }
    if (seen > maxBytes) throw new Budget();
    if (v === null || typeof v !== "object" || key === "" || !SECRET_KEY.test(key)) return v;
    return REDACTED;
  };
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value, replacer) ?? "null";
  } catch (err) {
    if (!(err instanceof Budget) && !(err instanceof RangeError)) throw err; // RangeError: cyclic/deep
  }
  if (text !== undefined && text.length <= maxBytes && utf8Length(text) <= maxBytes) {
    return { text, truncated: false };
  }
  return slowBoundedJson(value, maxBytes);
}

/** The bounded serializer (stops writing at the budget; depth-limited). */
function slowBoundedJson(value: unknown, maxBytes: number): BoundedJson {
  const parts: string[] = [];
  let length = 0;
  const push = (s: string) => {
    parts.push(s);
    length += s.length;
    // UTF-16 units never exceed UTF-8 bytes: past the budget in units is past it in bytes.
    if (length > maxBytes) throw new Budget();
  };
  const write = (v: unknown, depth: number, secret: boolean): void => {
    if (v === null || typeof v === "number" || typeof v === "boolean") {
      push(typeof v === "number" && !Number.isFinite(v) ? "null" : String(v));
      return;
    }
    if (secret) {
      push(JSON.stringify(REDACTED));
      return;
    }
    if (typeof v === "string") {
      push(JSON.stringify(redactText(v)));
      return;
    }
    if (typeof v !== "object" || depth >= MAX_DEPTH) {
      push(depth >= MAX_DEPTH && typeof v === "object" ? '"[too deep]"' : "null");
      return;
    }
    if (Array.isArray(v)) {
      push("[");
      v.forEach((item, i) => {
        if (i) push(",");
        write(item === undefined ? null : item, depth + 1, false);
      });
      push("]");
      return;
    }
    push("{");
    let first = true;
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined || typeof item === "function") continue;
      push(first ? "" : ",");
      first = false;
      push(JSON.stringify(k));
      push(":");
      write(item, depth + 1, SECRET_KEY.test(k));
    }
    push("}");
  };
  try {
    write(value === undefined ? null : value, 0, false);
  } catch (err) {
    if (!(err instanceof Budget)) throw err;
    return { text: cutToBytes(parts.join(""), maxBytes), truncated: true };
  }
  const text = parts.join("");
  if (utf8Length(text) <= maxBytes) return { text, truncated: false };
  return { text: cutToBytes(text, maxBytes), truncated: true };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return encoder.encode(text).byteLength;
  }
  return text.length;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes (no split character). */
export function cutToBytes(text: string, maxBytes: number): string {
  const bytes = encoder.encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return decoder.decode(bytes.subarray(0, end));
}
