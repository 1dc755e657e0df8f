/**
 * Helpers shared by scenarios: metering the process under test around a measurement, turning
 * stats into rows, and running a block with a started proxy (or recording why it could not).
 * @module
 */

import { meter } from "./procstat.ts";
import type { LatencyStats } from "./stats.ts";
import type { Subject } from "./targets.ts";
import type { BenchContext, ProxyTarget, ResultRow, ScenarioResult } from "./types.ts";

export interface Metered<T> {
  result: T;
  cpuSeconds: number;
  peakRssKiB: number;
  rssKiB: number;
}

/** Runs `fn` while metering CPU time and peak RSS of `pid`. */
export async function metered<T>(pid: number, fn: () => Promise<T>): Promise<Metered<T>> {
  const m = await meter(pid);
  const result = await fn();
  return { result, ...(await m.stop()) };
}

/** A row from latency stats measured on `subject`. */
export function statsRow(
  scenario: string,
  metric: string,
  subject: Subject,
  m: Metered<LatencyStats>,
): ResultRow {
  const s = m.result;
  return {
    scenario,
    metric,
    subject: subject.label,
    p50: s.p50,
    p90: s.p90,
    p99: s.p99,
    throughput: s.throughput,
    count: s.count,
    errors: s.errors,
    cpuSeconds: m.cpuSeconds,
    peakRssKiB: m.peakRssKiB,
  };
}

/** An empty result for scenario `name`. */
export function emptyResult(name: string): ScenarioResult {
  return { name, rows: [], skipped: [], notes: [] };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Starts `proxy` in front of `backends` and waits until it lists `minTools` tools. Undefined
 * (and the reason in `result.skipped`) when it is unavailable or does not start.
 */
export async function startProxy(
  ctx: BenchContext,
  result: ScenarioResult,
  proxy: ProxyTarget,
  backends: { name: string; url: string }[],
  minTools: number,
  extra?: Record<string, unknown>,
  readyTimeoutMs = 90_000,
): Promise<Subject | undefined> {
  if (proxy.unavailable) {
    result.skipped.push(`${proxy.label}: ${proxy.unavailable}`);
    return undefined;
  }
  try {
    const subject = await proxy.start(backends, extra);
    await subject.ready?.(minTools, readyTimeoutMs);
    return subject;
  } catch (err) {
    result.skipped.push(`${proxy.label}: did not start: ${message(err).slice(0, 600)}`);
    ctx.log(`${result.name}: ${proxy.label} did not start: ${message(err).slice(0, 300)}`);
    return undefined;
  }
}

/** `startProxy` for every proxy of the run; callers stop the subjects. */
export async function startProxies(
  ctx: BenchContext,
  result: ScenarioResult,
  backends: { name: string; url: string }[],
  minTools: number,
  extra?: Record<string, unknown>,
  readyTimeoutMs?: number,
): Promise<{ proxy: ProxyTarget; subject: Subject }[]> {
  const started: { proxy: ProxyTarget; subject: Subject }[] = [];
  for (const proxy of ctx.proxies) {
    const subject = await startProxy(ctx, result, proxy, backends, minTools, extra, readyTimeoutMs);
    if (subject) started.push({ proxy, subject });
  }
  return started;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
