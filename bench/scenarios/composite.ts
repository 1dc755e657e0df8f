/**
 * Scenario: a 10-step diamond workflow run as one composite tool call versus the same 10
 * calls driven by the client (through the same proxy, each call started as soon as its own
 * dependencies answered). Two variants: steps that sleep unequal times (shows per-edge versus
 * level-barrier scheduling) and steps that do no work (shows the saved client round trips).
 * Reported: p50 of each and the composite / client-driven ratio.
 * @module
 */

import { CallToolResultSchema, type Client } from "../../core/sdk.ts";
import { closeClient, connectClient, type Operation, runLoad } from "../load.ts";
import { emptyResult, metered, startProxies, statsRow } from "../measure.ts";
import { directSubject, type Subject } from "../targets.ts";
import { type BenchContext, type ResultRow, type ScenarioResult, withRatios } from "../types.ts";

export const name = "composite";
export const order = 5;
export const description =
  "10-step diamond workflow: one composite tool call vs the same calls driven by the client";

const BACKEND = "b0";

interface DagStep {
  id: string;
  ms: number;
  dependsOn: string[];
}

/**
 * s0 fans out to four branches of unequal length that join in s8/s9. Critical path (per
 * edge): s0 → s2 → s5 → s8 → s9 = 10+10+30+20+10 = 80 ms; level barriers add up the longest
 * step of each level: 10+40+30+20+10 = 110 ms.
 */
export const DIAMOND: DagStep[] = [
  { id: "s0", ms: 10, dependsOn: [] },
  { id: "s1", ms: 40, dependsOn: ["s0"] },
  { id: "s2", ms: 10, dependsOn: ["s0"] },
  { id: "s3", ms: 10, dependsOn: ["s0"] },
  { id: "s4", ms: 20, dependsOn: ["s0"] },
  { id: "s5", ms: 30, dependsOn: ["s2"] },
  { id: "s6", ms: 30, dependsOn: ["s3"] },
  { id: "s7", ms: 10, dependsOn: ["s4"] },
  { id: "s8", ms: 20, dependsOn: ["s5", "s6"] },
  { id: "s9", ms: 10, dependsOn: ["s1", "s7", "s8"] },
];

interface Variant {
  label: string;
  tool: string;
  /** Sleep of each step (scaled from DIAMOND). */
  ms: (step: DagStep) => number;
}

const VARIANTS: Variant[] = [
  { label: "unequal sleeps", tool: "diamond_sleep", ms: (s) => s.ms },
  { label: "no work", tool: "diamond_nowork", ms: () => 0 },
];

/** The composite tool definitions (same shape for vmcp and ToolHive). */
export function compositeTools(slowTool: string): Record<string, unknown>[] {
  return VARIANTS.map((v) => ({
    name: v.tool,
    description: `10-step diamond (${v.label})`,
    parameters: { type: "object", properties: {} },
    steps: DIAMOND.map((s) => ({
      id: s.id,
      tool: slowTool,
      arguments: { ms: v.ms(s), steps: 1 },
      ...(s.dependsOn.length ? { dependsOn: s.dependsOn } : {}),
    })),
  }));
}

async function call(client: Client, tool: string, args: Record<string, unknown>) {
  const r = await client.request(
    { method: "tools/call", params: { name: tool, arguments: args } },
    CallToolResultSchema,
    { timeout: 30_000 },
  );
  if (r.isError) throw new Error(`${tool}: ${JSON.stringify(r.content).slice(0, 200)}`);
  return r;
}

/** The client drives the DAG itself: each call starts once its own dependencies answered. */
export function clientDag(slowTool: string, variant: Variant): Operation {
  return async (client) => {
    const done = new Map<string, Promise<unknown>>();
    for (const s of DIAMOND) {
      const deps = s.dependsOn.map((d) => done.get(d)!);
      done.set(
        s.id,
        Promise.all(deps).then(() => call(client, slowTool, { ms: variant.ms(s), steps: 1 })),
      );
    }
    await Promise.all(done.values());
  };
}

const compositeCall = (tool: string): Operation => (client) => call(client, tool, {});

async function measure(
  ctx: BenchContext,
  subject: Subject,
  metric: string,
  op: Operation,
): Promise<ResultRow> {
  ctx.log(`${name}: ${subject.label} ${metric}`);
  const calls = Math.max(20, Math.ceil(ctx.sizes.calls / 20));
  const m = await metered(subject.pid, () =>
    runLoad({
      url: subject.url,
      concurrency: 1,
      calls,
      warmup: Math.max(3, Math.ceil(calls / 10)),
      maxSeconds: ctx.sizes.maxSeconds,
      op,
      signal: ctx.signal,
    }));
  return statsRow(name, metric, subject, m);
}

async function serves(subject: Subject, tools: string[]): Promise<string | undefined> {
  const client = await connectClient(subject.url, "bench-composite");
  try {
    const listed = new Set((await client.listTools()).tools.map((t) => t.name));
    const missing = tools.filter((t) => !listed.has(t));
    return missing.length ? `composite tools not listed: ${missing.join(", ")}` : undefined;
  } finally {
    await closeClient(client);
  }
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  const backends = await ctx.startBackends([{ name: BACKEND }]);
  const list = [{ name: BACKEND, url: backends.urls[BACKEND]! }];
  const slowTool = `${BACKEND}_slow`;
  const started = await startProxies(ctx, result, list, 1, {
    compositeTools: compositeTools(slowTool),
  });
  try {
    const direct = directSubject(backends, BACKEND);
    for (const v of VARIANTS) {
      result.rows.push(
        await measure(ctx, direct, `client-driven DAG, ${v.label}`, clientDag("slow", v)),
      );
      for (const { proxy, subject } of started) {
        const why = await serves(subject, [v.tool]).catch((e) => String(e));
        const clientRow = await measure(
          ctx,
          subject,
          `client-driven DAG, ${v.label}`,
          clientDag(subject.toolName(BACKEND, "slow"), v),
        );
        result.rows.push(clientRow);
        if (why) {
          result.skipped.push(`${proxy.label} ${v.label}: ${why}`);
          continue;
        }
        try {
          const row = withRatios(
            await measure(ctx, subject, `composite tool, ${v.label}`, compositeCall(v.tool)),
            clientRow,
          );
          result.rows.push(
            proxy.kind === "vmcp"
              ? {
                ...row,
                target: {
                  text: "p50 ≤ client-driven DAG",
                  met: (row.p50Ratio ?? Infinity) <= 1,
                },
              }
              : row,
          );
        } catch (err) {
          result.skipped.push(
            `${proxy.label} ${v.label}: ${err instanceof Error ? err.message : err}`,
          );
        }
      }
    }
    result.notes.push(
      "Composite rows carry p50Ratio = composite p50 / client-driven p50 on the same proxy. " +
        "Per-edge critical path of the sleep variant: 80 ms; a level-barrier schedule needs 110 ms.",
    );
  } finally {
    await Promise.all(started.map((s) => s.subject.stop()));
    await backends.stop();
  }
  return result;
}
