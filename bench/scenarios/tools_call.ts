/**
 * Scenario 1: `tools/call` of `echo` through each proxy versus the same backend directly, at
 * each concurrency (closed loop, one SDK client per session). Targets (vmcp): p50 ≤ 1.5×
 * direct at c=1, throughput ≥ 60% of direct at c=16.
 * @module
 */

import { callTool, type LoadClient, runLoad } from "../load.ts";
import { type RawEra, runRawLoad } from "../raw_load.ts";
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

/**
 * One cell of the raw-HTTP client (bench/raw_load.ts): both eras at the same client cost. CPU is
 * the subject process's over the measured phase only (no session setup, no warm-up).
 */
async function rawCell(
  ctx: BenchContext,
  subject: Subject,
  label: string,
  era: RawEra,
  c: number,
): Promise<ResultRow> {
  const { sizes } = ctx;
  ctx.log(`${name}: ${label} c=${c}`);
  const s = await runRawLoad({
    url: subject.url,
    era,
    tool: subject.toolName(BACKEND, "echo"),
    concurrency: c,
    calls: sizes.calls,
    warmup: sizes.warmup,
    maxSeconds: sizes.maxSeconds,
    pid: subject.pid,
    signal: ctx.signal,
  });
  if (s.count === 0) throw new Error(`${label}: no call succeeded: ${s.firstError}`);
  return {
    scenario: name,
    metric: `tools/call c=${c}`,
    subject: label,
    p50: s.p50,
    p90: s.p90,
    p99: s.p99,
    throughput: s.throughput,
    count: s.count,
    errors: s.errors,
    ...(s.cpuSeconds !== undefined ? { cpuSeconds: s.cpuSeconds } : {}),
    ...(s.firstError ? { note: `first error: ${s.firstError}` } : {}),
  };
}

/** Microseconds of the row's process CPU per measured call. */
export function cpuPerCall(row: ResultRow): number {
  return row.cpuSeconds !== undefined && row.count ? 1e6 * row.cpuSeconds / row.count : NaN;
}

/**
 * The raw-client comparison of the eras in one cell: per era the p50 added over the floor, the
 * throughput ratio to the floor and the proxy's CPU per call (ADR 0010 step 7 judges on these).
 */
export function eraNotes(
  c: number,
  floor: ResultRow,
  legacy: ResultRow,
  modern: ResultRow,
): string[] {
  const us = (r: ResultRow) => `${cpuPerCall(r).toFixed(0)} µs`;
  const one = (era: string, r: ResultRow) =>
    `${overFloor(`vmcp raw ${era}`, c, r, floor)}, proxy CPU ${us(r)} per call (floor ${
      us(floor)
    })`;
  const added = (r: ResultRow) => r.p50! - floor.p50!;
  const verdict = cpuPerCall(modern) <= cpuPerCall(legacy) && added(modern) <= added(legacy)
    ? "no worse"
    : "worse";
  return [
    one("2025-11-25", legacy),
    one("2026-07-28", modern),
    `vmcp raw 2026-07-28 vs 2025-11-25 at c=${c}: proxy CPU per call ${
      (cpuPerCall(modern) / cpuPerCall(legacy)).toFixed(2)
    }×, p50 over floor ${added(modern) >= 0 ? "+" : "−"}${Math.abs(added(modern)).toFixed(3)} vs ${
      added(legacy) >= 0 ? "+" : "−"
    }${Math.abs(added(legacy)).toFixed(3)} ms: ${verdict} in this run`,
  ];
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
    const rawWarm = (s: Subject, era: RawEra) =>
      runRawLoad({
        url: s.url,
        era,
        tool: s.toolName(BACKEND, "echo"),
        concurrency: 1,
        calls: ctx.sizes.warmup * 5,
        warmup: 0,
        maxSeconds: ctx.sizes.maxSeconds,
        signal: ctx.signal,
      }).catch(() => {});
    for (const s of [direct, ...(floor ? [floor] : [])]) await rawWarm(s, "legacy");
    for (const s of started) {
      if (s.proxy.kind !== "vmcp") continue;
      await rawWarm(s.subject, "legacy");
      await rawWarm(s.subject, "modern");
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
      // Both eras through vmcp with the raw-HTTP client (identical client cost), against direct
      // and the floor measured with the same client (the backend speaks 2025-11-25).
      try {
        const base3 = await rawCell(ctx, direct, "direct (raw)", "legacy", c);
        result.rows.push(base3);
        const floor3 = floor
          ? withRatios(await rawCell(ctx, floor, "floor (raw)", "legacy", c), base3)
          : undefined;
        if (floor3) result.rows.push(floor3);
        const legacy = withRatios(
          await rawCell(ctx, vmcp.subject, `${vmcp.proxy.label} (raw, 2025-11-25)`, "legacy", c),
          base3,
        );
        const modern = withRatios(
          await rawCell(ctx, vmcp.subject, `${vmcp.proxy.label} (raw, 2026-07-28)`, "modern", c),
          base3,
        );
        result.rows.push(legacy, modern);
        if (floor3) result.notes.push(...eraNotes(c, floor3, legacy, modern));
      } catch (err) {
        result.skipped.push(`raw c=${c}: ${err instanceof Error ? err.message : err}`);
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
        "bytes, no MCP work at all: the cost of one extra HTTP hop on this machine. " +
        "The (raw) rows use bench/raw_load.ts: pre-built request bytes over one keep-alive " +
        "connection per virtual client, a 2025-11-25 session (with its GET stream) or the " +
        "2026-07-28 envelope and headers, so both eras cost the load generator the same; their " +
        "CPU is the process's over the measured calls only. The eras are compared on proxy CPU " +
        "per call and p50 added over the raw floor (ADR 0010 step 7); a single run on a shared " +
        "machine varies by tens of µs, so the verdict needs the median of several runs.",
    );
  } finally {
    await Promise.all([...started.map((s) => s.subject.stop()), floor?.stop()]);
    await backends.stop();
  }
  return result;
}
