/**
 * Scenario 1: `tools/call` of `echo` through each proxy versus the same backend directly, at
 * each concurrency (closed loop, one SDK client per session). Targets (vmcp): p50 ≤ 1.5×
 * direct at c=1, throughput ≥ 60% of direct at c=16.
 * @module
 */

import { callTool, type LoadClient, runLoad } from "../load.ts";
import { emptyResult, metered, startProxies, statsRow } from "../measure.ts";
import { directSubject, startBareForwarder, type Subject } from "../targets.ts";
import { type BenchContext, type ResultRow, type ScenarioResult, withRatios } from "../types.ts";

export const name = "tools_call";
export const order = 1;
export const description =
  "tools/call through the proxy vs the backend directly at 1, 16 and 64 concurrent clients";

const BACKEND = "b0";

async function cell(
  ctx: BenchContext,
  subject: Subject,
  c: number,
  client: LoadClient = "v1",
): Promise<ResultRow> {
  const { sizes } = ctx;
  ctx.log(`${name}: ${subject.label} c=${c}`);
  const tool = subject.toolName(BACKEND, "echo");
  const m = await metered(subject.pid, () =>
    runLoad({
      url: subject.url,
      concurrency: c,
      calls: sizes.calls,
      warmup: sizes.warmup,
      maxSeconds: sizes.maxSeconds,
      op: callTool(tool),
      client,
      v2Tool: tool,
      signal: ctx.signal,
    }));
  return statsRow(name, `tools/call c=${c}`, subject, m);
}

/** The same subject measured with another client, under its own label. */
function as(subject: Subject, label: string): Subject {
  return { ...subject, label };
}

/**
 * Unmeasured calls through `subject` before any cell. Every process starts cold (JIT), and the
 * backend serves all subjects: without this the first cell (direct) would run on a cold
 * backend and the later ones (the proxies) on a warm one, which flatters the proxies' ratios.
 */
async function warm(ctx: BenchContext, subject: Subject, client: LoadClient = "v1") {
  const tool = subject.toolName(BACKEND, "echo");
  await runLoad({
    client,
    v2Tool: tool,
    url: subject.url,
    concurrency: 1,
    calls: ctx.sizes.warmup * 5,
    warmup: 0,
    maxSeconds: ctx.sizes.maxSeconds,
    op: callTool(subject.toolName(BACKEND, "echo")),
    signal: ctx.signal,
  });
}

/** How a proxy compares with the floor in one cell: added p50 and throughput ratio. */
export function overFloor(label: string, c: number, row: ResultRow, floor: ResultRow): string {
  const added = row.p50! - floor.p50!;
  const thr = row.throughput! / floor.throughput!;
  return `${label} vs floor at c=${c}: p50 ${added >= 0 ? "+" : "−"}${
    Math.abs(added).toFixed(3)
  } ms, throughput ${thr.toFixed(2)}×`;
}

/** The targets of vmcp rows (ToolHive rows are informational). */
export function judge(row: ResultRow, c: number): ResultRow {
  if (c === 1 && row.p50Ratio !== undefined) {
    return { ...row, target: { text: "p50 ≤ 1.5× direct", met: row.p50Ratio <= 1.5, on: "p50" } };
  }
  if (c === 16 && row.throughputRatio !== undefined) {
    return {
      ...row,
      target: {
        text: "throughput ≥ 60% of direct",
        met: row.throughputRatio >= 0.6,
        on: "throughput",
      },
    };
  }
  return row;
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  const backends = await ctx.startBackends([{ name: BACKEND }]);
  const list = [{ name: BACKEND, url: backends.urls[BACKEND]! }];
  const started = await startProxies(ctx, result, list, 1);
  // The floor: one extra HTTP hop with nothing else (bench/bare_forwarder.ts).
  const floor = await startBareForwarder(backends, BACKEND, ctx.workDir).catch((err) => {
    result.skipped.push(`floor (bare forwarder): ${err instanceof Error ? err.message : err}`);
    return undefined;
  });
  try {
    const direct = directSubject(backends, BACKEND);
    ctx.log(`${name}: warming up every subject`);
    for (const s of [direct, ...(floor ? [floor] : []), ...started.map((x) => x.subject)]) {
      await warm(ctx, s);
    }
    for (const s of [direct, ...(floor ? [floor] : [])]) await warm(ctx, s, "v2-legacy");
    for (const s of started) {
      if (s.proxy.kind === "vmcp") await warm(ctx, s.subject, "v2-modern").catch(() => {});
    }
    // Interleaved per concurrency (direct, then each proxy) so that load from elsewhere on the
    // machine hits baseline and proxies alike.
    for (const c of ctx.sizes.concurrency) {
      const base = await cell(ctx, direct, c);
      result.rows.push(base);
      const floorRow = floor ? withRatios(await cell(ctx, floor, c), base) : undefined;
      if (floorRow) result.rows.push(floorRow);
      for (const { proxy, subject } of started) {
        try {
          const row = withRatios(await cell(ctx, subject, c), base);
          result.rows.push(proxy.kind === "vmcp" ? judge(row, c) : row);
          if (floorRow) result.notes.push(overFloor(proxy.label, c, row, floorRow));
        } catch (err) {
          result.skipped.push(`${proxy.label} c=${c}: ${err instanceof Error ? err.message : err}`);
        }
      }
      // MCP 2026-07-28 (issue #16): a v2 client pinned to the stateless revision through vmcp,
      // against direct and the floor measured with the same v2 client (in its legacy mode: the
      // backend speaks 2025-11-25), so each ratio compares one client library with itself.
      const vmcp = started.find((s) => s.proxy.kind === "vmcp");
      if (!vmcp) continue;
      try {
        const base2 = await cell(ctx, as(direct, "direct (v2 client)"), c, "v2-legacy");
        result.rows.push(base2);
        const floor2 = floor
          ? withRatios(await cell(ctx, as(floor, "floor (v2 client)"), c, "v2-legacy"), base2)
          : undefined;
        if (floor2) result.rows.push(floor2);
        const label = `${vmcp.proxy.label} (2026-07-28)`;
        const row = withRatios(await cell(ctx, as(vmcp.subject, label), c, "v2-modern"), base2);
        result.rows.push(judge(row, c));
        if (floor2) result.notes.push(overFloor(label, c, row, floor2));
      } catch (err) {
        result.skipped.push(`2026-07-28 c=${c}: ${err instanceof Error ? err.message : err}`);
      }
    }
    result.notes.push(
      `${ctx.sizes.calls} measured calls per cell after ${ctx.sizes.warmup} warm-up ` +
        `(and ${ctx.sizes.warmup * 5} unmeasured calls through every subject before the first ` +
        "cell, so that no process, the backend included, is measured cold), " +
        `at most ${ctx.sizes.maxSeconds} s; backend replies ${
          ctx.sizes.jsonResponse ? "JSON" : "SSE"
        }; CPU/RSS are of the backend process (direct) or of the proxy process. ` +
        "The floor row is bench/bare_forwarder.ts: Deno.serve + vmcp's HTTP/1.1 pool relaying " +
        "bytes, no MCP work at all: the cost of one extra HTTP hop on this machine.",
    );
  } finally {
    await Promise.all([...started.map((s) => s.subject.stop()), floor?.stop()]);
    await backends.stop();
  }
  return result;
}
