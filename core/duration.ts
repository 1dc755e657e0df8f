/**
 * Go-style duration strings (`30s`, `1m30s`, `500ms`, `1.5h`) as used by the CRD.
 * @module
 */

/** The pattern the CRD validates durations with (RE2-compatible). */
export const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a duration string into milliseconds; throws a `SyntaxError` naming the value. */
export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) {
    throw new SyntaxError(
      `Invalid duration "${text}": expected a number and unit such as "30s", "5m", "1h30m" or "500ms"`,
    );
  }
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}
