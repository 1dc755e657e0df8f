/**
 * Bounding what is echoed back: a value quoted in an error message or a log line is cut to a
 * few KB with a marker saying how much was left out, so a 3 MB argument never comes back
 * whole (in the answer, or as one 3 MB log line).
 * @module
 */

/** Characters of a value quoted in an error message. */
export const MAX_ECHO_CHARS = 1024;
/** Characters of one string field of a log line. */
export const MAX_LOG_STRING_CHARS = 4096;

const encoder = new TextEncoder();

/** `text` cut to `max` characters plus `…(N bytes truncated)` (N in UTF-8), or `text`. */
export function truncateText(text: string, max = MAX_ECHO_CHARS): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // never split a surrogate pair
  const kept = text.slice(0, end);
  const dropped = encoder.encode(text).byteLength - encoder.encode(kept).byteLength;
  return `${kept}…(${dropped} bytes truncated)`;
}
