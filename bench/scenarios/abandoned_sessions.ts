/**
 * Abandoned sessions (vmcp only): N clients send `initialize` and never come back (no
 * `notifications/initialized`, no request, no DELETE). Reports the proxy's RSS growth per
 * session, its RSS with all N held, and what is left after `sessionStorage.initTtl` (here
 * 15 s; default 2 min): `/status` counters (local sessions, sessions never used, sessions
 * closed as unused) and RSS once one more session has come in (new sessions retire expired
 * unused ones; the in-process store drops expired records on its next sweep).
 *
 * `sessionStorage.maxSessions` is raised to 2 × N for the run, so none is refused.
 * @module
 */

import { emptyResult, sleep, startProxy } from "../measure.ts";
import { readProc, resetPeak } from "../procstat.ts";
import { assertLoopback } from "../load.ts";
import { PROTOCOL_VERSION } from "../raw_session.ts";
import { summarize } from "../stats.ts";
import type { BenchContext, ResultRow, ScenarioResult } from "../types.ts";

export const name = "abandoned_sessions";
export const order = 3.5;
export const description =
  "10,000 initialize-only sessions: RSS with them held, and after initTtl expires them";

const PARALLEL = 16;
const WARM_SESSIONS = 200;
const SETTLE_MS = 2000;
const INIT_TTL_S = 15;

/** One `initialize`, nothing else; resolves once the answer is read. */
async function initializeOnly(url: string, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "vmcp-bench-abandoned", version: "1.0.0" },
      },
    }),
    signal,
  });
  const body = await res.text();
  if (!res.ok || !res.headers.get("mcp-session-id")) {
    throw new Error(`initialize: HTTP ${res.status}: ${body.slice(0, 200)}`);
  }
}

async function openMany(url: string, count: number, signal: AbortSignal) {
  assertLoopback(url);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < count && !signal.aborted && errors <= Math.max(20, count / 20)) {
      next++;
      const t0 = performance.now();
      try {
        await initializeOnly(url, signal);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }));
  return { latencies, errors, firstError, seconds: (performance.now() - start) / 1000 };
}

interface StoreStatus {
  local?: number;
  unused?: number;
  created?: number;
  expiredUnused?: number;
}

async function storeStatus(url: string): Promise<StoreStatus> {
  const res = await fetch(new URL("/status", url));
  return ((await res.json()) as { sessionStore?: StoreStatus }).sessionStore ?? {};
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  const n = ctx.sizes.idleSessions;
  for (const proxy of ctx.proxies.filter((p) => p.kind === "vmcp")) {
    const backends = await ctx.startBackends([{ name: "b0" }]);
    const subject = await startProxy(
      ctx,
      result,
      proxy,
      [{ name: "b0", url: backends.urls.b0! }],
      1,
      {
        sessionStorage: { maxSessions: 2 * (n + WARM_SESSIONS), initTtl: `${INIT_TTL_S}s` },
      },
    );
    try {
      if (!subject) continue;
      ctx.log(`${name}: ${subject.label} ${n} initialize-only sessions`);
      await openMany(subject.url, WARM_SESSIONS, ctx.signal);
      await sleep(SETTLE_MS);
      await resetPeak(subject.pid);
      const before = await readProc(subject.pid);
      const opened = await openMany(subject.url, n, ctx.signal);
      await sleep(SETTLE_MS);
      const held = await readProc(subject.pid);
      const heldStatus = await storeStatus(subject.url);
      ctx.log(`${name}: waiting ${INIT_TTL_S + 5} s for initTtl`);
      await sleep((INIT_TTL_S + 5) * 1000);
      await initializeOnly(subject.url, ctx.signal); // retires expired unused sessions
      await sleep(SETTLE_MS);
      const after = await readProc(subject.pid);
      const afterStatus = await storeStatus(subject.url);
      const ok = opened.latencies.length;
      const stats = summarize(opened.latencies, opened.errors, opened.seconds);
      const common = { scenario: name, subject: subject.label, peakRssKiB: held.hwmKiB };
      const rows: ResultRow[] = [
        {
          ...common,
          metric: `RSS per abandoned session (${n}, initialize only)`,
          value: ok ? (held.rssKiB - before.rssKiB) / ok : NaN,
          unit: "KiB",
          count: ok,
          errors: opened.errors,
          note: `RSS ${Math.round(before.rssKiB / 1024)} → ${Math.round(held.rssKiB / 1024)} MiB` +
            `; local ${heldStatus.local}, never used ${heldStatus.unused}` +
            (opened.errors ? `; ${opened.errors} failed (first: ${opened.firstError})` : ""),
        },
        {
          ...common,
          metric: `RSS total with ${n} abandoned sessions`,
          value: held.rssKiB / 1024,
          unit: "MiB",
        },
        {
          ...common,
          metric: `RSS after initTtl (${INIT_TTL_S} s) expired them`,
          value: after.rssKiB / 1024,
          unit: "MiB",
          note: `local ${afterStatus.local}, never used ${afterStatus.unused}, closed as unused ` +
            `${afterStatus.expiredUnused} (no forced GC: V8 keeps freed heap for reuse)`,
        },
        {
          ...common,
          metric: `open abandoned session (initialize, ${PARALLEL} in flight)`,
          p50: stats.p50,
          p90: stats.p90,
          p99: stats.p99,
          throughput: stats.throughput,
          count: stats.count,
          errors: stats.errors,
        },
      ];
      result.rows.push(...rows);
    } catch (err) {
      result.skipped.push(`${proxy.label}: ${err instanceof Error ? err.message : err}`);
    } finally {
      await subject?.stop();
      await backends.stop();
    }
  }
  result.notes.push(
    `initialize only (no initialized notification, no request), ${PARALLEL} in flight, after ` +
      `${WARM_SESSIONS} warm-up sessions; sessionStorage.initTtl ${INIT_TTL_S}s, maxSessions ` +
      "raised so none is refused; RSS read 2 s after the last one and again after initTtl.",
  );
  return result;
}
