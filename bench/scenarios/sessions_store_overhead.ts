/**
 * Scenario: what the session-store lookup on every request costs through the proxy. The same
 * vmcp build in front of the same backend, once with `sessionStorage.provider: memory` and
 * once with `redis` (a private redis-server on loopback), `tools/call` at one client,
 * interleaved in rounds so drift on the machine hits both alike. Target: the Redis lookup
 * adds ≤ 150 µs to the p50.
 * @module
 */

import { startRedis } from "../../tests/harness/redis.ts";
import { callTool, runLoad } from "../load.ts";
import { emptyResult, metered, startProxy } from "../measure.ts";
import type { LatencyStats } from "../stats.ts";
import type { Subject } from "../targets.ts";
import { type BenchContext, type ResultRow, type ScenarioResult, withRatios } from "../types.ts";

export const name = "sessions_store_overhead";
export const order = 10;
export const description =
  "tools/call p50 with sessionStorage redis vs memory (same backend, same run): the lookup cost";

const BACKEND = "b0";
const ROUNDS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  const vmcp = ctx.proxies.find((p) => p.kind === "vmcp");
  if (!vmcp) {
    result.skipped.push("vmcp is not among --proxies");
    return result;
  }
  const redis = await startRedis();
  const backends = await ctx.startBackends([{ name: BACKEND }]);
  const list = [{ name: BACKEND, url: backends.urls[BACKEND]! }];
  const subjects: { label: string; subject: Subject }[] = [];
  try {
    for (
      const [label, extra] of [
        ["memory", {}],
        ["redis", {
          sessionStorage: { provider: "redis", address: `127.0.0.1:${redis.port}` },
        }],
      ] as const
    ) {
      const subject = await startProxy(ctx, result, vmcp, list, 1, extra);
      if (!subject) return result;
      subjects.push({ label, subject });
    }
    const rounds = new Map<string, { stats: LatencyStats; cpu: number; rss: number }[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const { label, subject } of subjects) {
        ctx.log(`${name}: ${label} round ${r + 1}/${ROUNDS}`);
        const m = await metered(subject.pid, () =>
          runLoad({
            url: subject.url,
            concurrency: 1,
            calls: ctx.sizes.calls,
            warmup: ctx.sizes.warmup,
            maxSeconds: ctx.sizes.maxSeconds,
            op: callTool(subject.toolName(BACKEND, "echo")),
            signal: ctx.signal,
          }));
        const got = rounds.get(label) ?? [];
        got.push({ stats: m.result, cpu: m.cpuSeconds, rss: m.peakRssKiB });
        rounds.set(label, got);
      }
    }
    const row = (label: string): ResultRow => {
      const rs = rounds.get(label)!;
      return {
        scenario: name,
        metric: "tools/call c=1 (median of rounds)",
        subject: `vmcp sessionStorage=${label}`,
        p50: median(rs.map((x) => x.stats.p50)),
        p90: median(rs.map((x) => x.stats.p90)),
        p99: median(rs.map((x) => x.stats.p99)),
        throughput: median(rs.map((x) => x.stats.throughput)),
        count: rs.reduce((a, x) => a + x.stats.count, 0),
        errors: rs.reduce((a, x) => a + x.stats.errors, 0),
        cpuSeconds: rs.reduce((a, x) => a + x.cpu, 0),
        peakRssKiB: Math.max(...rs.map((x) => x.rss)),
      };
    };
    const memory = row("memory");
    const redisRow = withRatios(row("redis"), memory);
    const perRound = rounds.get("redis")!.map((x, i) =>
      (x.stats.p50 - rounds.get("memory")![i]!.stats.p50) * 1000
    );
    const diffUs = (redisRow.p50! - memory.p50!) * 1000;
    result.rows.push(memory, redisRow, {
      scenario: name,
      metric: "added p50 of the Redis session lookup",
      subject: "vmcp",
      value: diffUs,
      unit: "µs",
      target: { text: "≤ 150 µs p50", met: diffUs <= 150, on: "value" },
      note: `per-round p50 differences (µs): ${perRound.map((d) => Math.round(d)).join(", ")}`,
    });
    result.notes.push(
      `${ROUNDS} interleaved rounds of ${ctx.sizes.calls} calls (after ${ctx.sizes.warmup} ` +
        "warm-up) per store, one SDK client, backend replies " +
        `${ctx.sizes.jsonResponse ? "JSON" : "SSE"}; rows show the median of the round ` +
        "percentiles. Ratio = redis ÷ memory. Redis: redis-server 7 on loopback, no persistence.",
    );
  } finally {
    await Promise.all(subjects.map((s) => s.subject.stop()));
    await backends.stop();
    await redis.stop();
  }
  return result;
}
