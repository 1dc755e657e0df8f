/**
 * Latency statistics for the benchmark: nearest-rank percentiles over recorded samples.
 * @module
 */

/** Latency percentiles in milliseconds and closed-loop throughput. */
export interface LatencyStats {
  /** Successful operations measured (warm-up excluded). */
  count: number;
  /** Failed operations (warm-up excluded). */
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  /** Mean latency in ms. */
  mean: number;
  /** Successful operations per second of wall time. */
  throughput: number;
  /** Wall time of the measured phase in seconds. */
  seconds: number;
}

/** Nearest-rank percentile `q` (0..1) of ascending-sorted `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarises latency samples (ms) measured over `seconds` of wall time. */
export function summarize(samples: number[], errors: number, seconds: number): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    errors,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    mean: sorted.length ? sum / sorted.length : NaN,
    throughput: seconds > 0 ? sorted.length / seconds : 0,
    seconds,
  };
}

/** Rounds for display/JSON: 3 significant decimals below 10, 1 above. */
export function round(n: number): number {
  if (!Number.isFinite(n)) return n;
  return Math.abs(n) < 10 ? Math.round(n * 1000) / 1000 : Math.round(n * 10) / 10;
}

/** Median of `xs` (the upper one of an even count), for in-process micro-benchmarks. */
export function p50(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** µs of each of `n` sequential runs of `f(i)` (wall clock). */
export async function timeAsync(
  n: number,
  f: (i: number) => Promise<unknown>,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    out.push((performance.now() - t) * 1000);
  }
  return out;
}
