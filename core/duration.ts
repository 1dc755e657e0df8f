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

/** The longest delay a JavaScript timer can hold (2^31−1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The range a duration field accepts (both ends inclusive, as duration strings). */
export interface DurationBounds {
  /** Smallest accepted non-zero value, e.g. `"100ms"`. */
  min: string;
  /** Largest accepted value, e.g. `"24h"`. */
  max: string;
  /** Zero (`0s`) is accepted too and means the feature is off. */
  zero?: string;
}

/** The allowed range as text: `100ms to 24h`, or `0s (off) or 1s to 24h`. */
export function describeBounds(b: DurationBounds): string {
  const range = `${b.min} to ${b.max}`;
  return b.zero ? `0s (${b.zero}) or ${range}` : range;
}

/**
 * Checks a duration string against `bounds`; returns undefined when it is accepted, else a
 * message naming the allowed range (the caller adds the field path and value).
 */
export function checkDuration(text: string, bounds: DurationBounds): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (e) {
    return (e as Error).message;
  }
  if (ms === 0 && bounds.zero) return undefined;
  if (ms < parseDuration(bounds.min) || ms > parseDuration(bounds.max)) {
    return `Duration out of range; allowed: ${describeBounds(bounds)}`;
  }
  return undefined;
}
