/**
 * Scenario: 1,000 concurrent sessions spread over two real vmcp replicas sharing a Redis
 * session store, behind the round-robin balancer of the tests (per request, no stickiness).
 * Each session is opened with a raw `initialize` + `notifications/initialized` (so the two
 * requests land on different replicas and the second one already restores the session), then
 * makes one `tools/call`. Reports errors, latency percentiles, RSS of each replica and how
 * many sessions each restored.
 * @module
 */

import { startRedis } from "../../tests/harness/redis.ts";
import { startBalancer } from "../../tests/fixtures/balancer.ts";
import { emptyResult, sleep, startProxy } from "../measure.ts";
import { readProc } from "../procstat.ts";
import { openRawSession, PROTOCOL_VERSION } from "../raw_session.ts";
import { summarize } from "../stats.ts";
import type { Subject } from "../targets.ts";
import type { BenchContext, ResultRow, ScenarioResult } from "../types.ts";

export const name = "sessions_scaleout";
export const order = 11;
export const description =
  "1,000 sessions over two vmcp replicas (Redis store) behind a round-robin balancer";

const BACKEND = "b0";
const SESSIONS = 1000;
const PARALLEL = 32;

/** One raw tools/call on an open session; resolves when the answer is complete. */
async function rawCall(url: string, session: string, tool: string, seq: number): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": session,
      "mcp-protocol-version": PROTOCOL_VERSION,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: seq,
      method: "tools/call",
      params: { name: tool, arguments: { message: `m${seq}` } },
    }),
  });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"result"')) {
    throw new Error(`tools/call: HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
}

async function status(subject: Subject) {
  const res = await fetch(new URL("/status", subject.url));
  return await res.json() as {
    sessions: number;
    sessionStore?: { created: number; restored: number; evicted: number };
  };
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  const vmcp = ctx.proxies.find((p) => p.kind === "vmcp");
  if (!vmcp) {
    result.skipped.push("vmcp is not among --proxies");
    return result;
  }
  const n = ctx.sizes.idleSessions < 1000 ? ctx.sizes.idleSessions : SESSIONS;
  const redis = await startRedis();
  const backends = await ctx.startBackends([{ name: BACKEND }]);
  const list = [{ name: BACKEND, url: backends.urls[BACKEND]! }];
  const extra = {
    sessionStorage: {
      provider: "redis",
      address: `127.0.0.1:${redis.port}`,
      keyPrefix: `vmcp:bench:${crypto.randomUUID().slice(0, 8)}:`,
    },
  };
  const replicas: Subject[] = [];
  let balancer: Awaited<ReturnType<typeof startBalancer>> | undefined;
  try {
    for (let i = 0; i < 2; i++) {
      const s = await startProxy(ctx, result, vmcp, list, 1, extra);
      if (!s) return result;
      replicas.push(s);
    }
    balancer = await startBalancer(replicas.map((r) => new URL(r.url).origin));
    const url = `${balancer.url}/mcp`;
    const before = await Promise.all(replicas.map((r) => readProc(r.pid)));
    ctx.log(`${name}: opening ${n} sessions over 2 replicas`);
    const ids: string[] = [];
    const openLat: number[] = [];
    let openErrors = 0;
    let firstError: string | undefined;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next < n && !ctx.signal.aborted) {
        next++;
        const s = performance.now();
        try {
          ids.push(await openRawSession(url, ctx.signal));
          openLat.push(performance.now() - s);
        } catch (err) {
          openErrors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }));
    const openStats = summarize(openLat, openErrors, (performance.now() - t0) / 1000);
    ctx.log(`${name}: one tools/call on each of ${ids.length} sessions`);
    const tool = replicas[0]!.toolName(BACKEND, "echo");
    const callLat: number[] = [];
    let callErrors = 0;
    let i = 0;
    const t1 = performance.now();
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (i < ids.length && !ctx.signal.aborted) {
        const seq = i++;
        const s = performance.now();
        try {
          await rawCall(url, ids[seq]!, tool, seq + 10);
          callLat.push(performance.now() - s);
        } catch (err) {
          callErrors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }));
    const callStats = summarize(callLat, callErrors, (performance.now() - t1) / 1000);
    await sleep(1000);
    const after = await Promise.all(replicas.map((r) => readProc(r.pid)));
    const st = await Promise.all(replicas.map(status));
    const base = { scenario: name, subject: "vmcp ×2 (redis)" };
    const latRow = (metric: string, s: typeof openStats): ResultRow => ({
      ...base,
      metric,
      p50: s.p50,
      p90: s.p90,
      p99: s.p99,
      throughput: s.throughput,
      count: s.count,
      errors: s.errors,
    });
    result.rows.push(
      latRow(`open session via balancer (${n}, ${PARALLEL} in flight)`, openStats),
      latRow(`first tools/call per session (${n}, ${PARALLEL} in flight)`, callStats),
    );
    replicas.forEach((_r, k) => {
      result.rows.push({
        ...base,
        subject: `replica ${k === 0 ? "a" : "b"}`,
        metric: `RSS with ${n} sessions over 2 replicas`,
        value: after[k]!.rssKiB / 1024,
        unit: "MiB",
        cpuSeconds: after[k]!.cpuSeconds - before[k]!.cpuSeconds,
        peakRssKiB: after[k]!.hwmKiB,
        note:
          `RSS ${Math.round(before[k]!.rssKiB / 1024)} → ${
            Math.round(after[k]!.rssKiB / 1024)
          } MiB; live sessions ${st[k]!.sessions}; created ${st[k]!.sessionStore?.created}, ` +
          `restored ${st[k]!.sessionStore?.restored}, evicted ${st[k]!.sessionStore?.evicted}`,
      });
    });
    if (firstError) result.notes.push(`first error: ${firstError.slice(0, 300)}`);
    result.notes.push(
      "Raw fetch clients; every request goes to the next replica (round robin, 32 sessions " +
        "interleaved), so most sessions are created on one replica and restored on the other " +
        "by a later request (see the restored counts). Load generator, balancer, Redis, " +
        "backend and both replicas share the machine's cores.",
    );
  } finally {
    await balancer?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await backends.stop();
    await redis.stop();
  }
  return result;
}
