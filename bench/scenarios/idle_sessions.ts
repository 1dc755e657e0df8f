/**
 * Scenario 3: memory of idle sessions. Opens N sessions (raw `initialize` +
 * `notifications/initialized`, never used again) against each proxy and against the backend
 * directly, and reports the growth of the process's RSS per session and in total. Target
 * (vmcp): ≤ 100 KiB per idle session.
 * @module
 */

import { emptyResult, sleep, startProxy } from "../measure.ts";
import { readProc, resetPeak } from "../procstat.ts";
import { openRawSessions } from "../raw_session.ts";
import { summarize } from "../stats.ts";
import { directSubject, type Subject } from "../targets.ts";
import { type BenchContext, type ResultRow, type ScenarioResult, withRatios } from "../types.ts";

export const name = "idle_sessions";
export const order = 3;
export const description = "10,000 idle sessions: RSS per session and in total";

const PARALLEL = 16;
const WARM_SESSIONS = 200;
const SETTLE_MS = 2000;

async function measure(
  ctx: BenchContext,
  subject: Subject,
  backendPid: number,
): Promise<ResultRow[]> {
  const n = ctx.sizes.idleSessions;
  ctx.log(`${name}: ${subject.label} ${n} sessions`);
  // Warm up code paths and allocator pools first, so the growth is per session.
  await openRawSessions(subject.url, Math.min(WARM_SESSIONS, n), PARALLEL, ctx.signal);
  await sleep(SETTLE_MS);
  await resetPeak(subject.pid);
  const before = await readProc(subject.pid);
  const backendBefore = await readProc(backendPid);
  const opened = await openRawSessions(subject.url, n, PARALLEL, ctx.signal);
  await sleep(SETTLE_MS);
  const after = await readProc(subject.pid);
  const backendAfter = await readProc(backendPid);
  const ok = opened.latencies.length;
  const perSession = ok ? (after.rssKiB - before.rssKiB) / ok : NaN;
  const stats = summarize(opened.latencies, opened.errors, opened.seconds);
  const common = {
    scenario: name,
    subject: subject.label,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    peakRssKiB: after.hwmKiB,
  };
  const errors = opened.errors
    ? `; ${opened.errors} failed (first: ${opened.firstError?.slice(0, 200)})`
    : "";
  const perRow: ResultRow = {
    ...common,
    metric: `RSS per idle session (${n})`,
    value: perSession,
    unit: "KiB",
    count: ok,
    errors: opened.errors,
    note: `RSS ${Math.round(before.rssKiB / 1024)} → ${Math.round(after.rssKiB / 1024)} MiB` +
      (backendPid !== subject.pid
        ? `; backend RSS grew ${
          Math.round((backendAfter.rssKiB - backendBefore.rssKiB) / 1024)
        } MiB`
        : "") +
      errors,
  };
  const totalRow: ResultRow = {
    ...common,
    metric: `RSS total with ${n} idle sessions`,
    value: after.rssKiB / 1024,
    unit: "MiB",
  };
  const openRow: ResultRow = {
    ...common,
    metric: `open session (initialize + initialized, ${PARALLEL} in flight)`,
    p50: stats.p50,
    p90: stats.p90,
    p99: stats.p99,
    throughput: stats.throughput,
    count: stats.count,
    errors: stats.errors,
  };
  return [perRow, totalRow, openRow];
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  // Each subject gets fresh processes, so sessions of one do not weigh on the next.
  const backends = await ctx.startBackends([{ name: "b0" }]);
  let base: ResultRow[] = [];
  try {
    base = await measure(ctx, directSubject(backends, "b0"), backends.pid);
    result.rows.push(...base);
  } finally {
    await backends.stop();
  }
  for (const proxy of ctx.proxies) {
    const fresh = await ctx.startBackends([{ name: "b0" }]);
    // vmcp caps sessions (sessionStorage.maxSessions, default 10,000): room for all of them.
    const extra = proxy.kind === "vmcp"
      ? { sessionStorage: { maxSessions: 2 * (ctx.sizes.idleSessions + WARM_SESSIONS) } }
      : undefined;
    const subject = await startProxy(
      ctx,
      result,
      proxy,
      [{ name: "b0", url: fresh.urls.b0! }],
      1,
      extra,
    );
    try {
      if (subject) {
        const rows = (await measure(ctx, subject, fresh.pid)).map((r, i) => withRatios(r, base[i]));
        const per = rows[0]!;
        if (proxy.kind === "vmcp") {
          per.target = {
            text: "≤ 100 KiB per idle session",
            met: (per.value ?? NaN) <= 100,
            on: "value",
          };
        }
        result.rows.push(...rows);
      }
    } catch (err) {
      result.skipped.push(`${proxy.label}: ${err instanceof Error ? err.message : err}`);
    } finally {
      await subject?.stop();
      await fresh.stop();
    }
  }
  result.notes.push(
    `sessions opened with raw fetch, ${PARALLEL} in flight, after ${WARM_SESSIONS} warm-up ` +
      `sessions; RSS read ${SETTLE_MS / 1000} s after the last one (no forced GC). Direct = ` +
      "the SDK test backend's own cost per session.",
  );
  return result;
}
