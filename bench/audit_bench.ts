/**
 * Audit trail cost: `deno run -A bench/audit_bench.ts [--n=20000]`
 *
 * In-process, a real `Router` over 20 backends × 50 tools whose backend answers at once (so the
 * router's own work is all that is measured), `tools/call` from a legacy session, in three
 * configurations interleaved in rounds in the same run:
 *
 * - `off`: no audit (the default: one null check per call);
 * - `on`: audit on, events appended to a real file (no request data);
 * - `onWithData`: audit on with `includeRequestData` (arguments redacted and cut to 1024 bytes).
 *
 * Reported per configuration: the p50 of one call's latency (µs, wall clock; what a client waits
 * for: the event is only buffered), and the CPU time per call including the background
 * serialization and file writes (µs of process user+system CPU for the round, flush included,
 * / calls; unlike wall time it is not inflated by other processes on a loaded machine). Ratios
 * are against `off`.
 * Prints JSON on stdout.
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { Registry } from "prom-client";
import { aggregate } from "../core/aggregation/mod.ts";
import { silentLogger } from "../core/log.ts";
import type { Tool } from "../core/sdk.ts";
import type { Backend } from "../proxy/backends/backend.ts";
import type { SessionPeer } from "../proxy/backends/connection.ts";
import { Router, type RouterState } from "../proxy/router.ts";
import type { Auditor } from "../proxy/audit/auditor.ts";
import { AuditTrail } from "../proxy/audit/trail.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "20000" } },
});
const N = Number(values.n);
const ROUNDS = 5;

const caps = Array.from({ length: 20 }, (_, b) => ({
  backend: `b${b}`,
  tools: Array.from({ length: 50 }, (_, t): Tool => ({
    name: `tool_${t}`,
    inputSchema: { type: "object", properties: { message: { type: "string" } } },
  })),
  resources: [],
  resourceTemplates: [],
  prompts: [],
}));
const view = aggregate(caps, undefined);
const RESULT = { content: [{ type: "text", text: "ok" }] };
const backend = { request: () => Promise.resolve(RESULT) } as unknown as Backend;

function state(audit?: Auditor): RouterState {
  return {
    view,
    fullView: view,
    lists: { tools: view.tools, resources: [], resourceTemplates: [], prompts: [] },
    extraTools: new Map(),
    backend: () => backend,
    assertRoutable: () => {},
    failingBackends: () => [],
    ready: () => Promise.resolve(),
    undiscoveredBackends: () => [],
    audit,
  };
}

const session = {
  id: crypto.randomUUID(),
  identity: { issuer: "https://idp.example.test", subject: "alice", claims: { sub: "alice" } },
  server: { getClientVersion: () => ({ name: "bench-client", version: "1.0.0" }) },
  request: () => Promise.resolve({}),
  notify: () => Promise.resolve(),
  clientCapabilities: () => ({}),
} as unknown as SessionPeer;

const dir = await Deno.makeTempDir({ prefix: "vmcp-audit-bench-" });
const trails: AuditTrail[] = [];
async function auditor(includeRequestData: boolean, file: string): Promise<Auditor> {
  const trail = new AuditTrail(new Registry(), silentLogger);
  trails.push(trail);
  return (await trail.apply({
    enabled: true,
    includeRequestData,
    maxDataSize: 1024,
    output: "file",
    filePath: `${dir}/${file}`,
    maxBufferedEvents: 100_000,
  }))!;
}

const configs = {
  off: { router: new Router(state()), audit: undefined as Auditor | undefined },
  on: await (async () => {
    const a = await auditor(false, "on.log");
    return { router: new Router(state(a)), audit: a as Auditor | undefined };
  })(),
  onWithData: await (async () => {
    const a = await auditor(true, "data.log");
    return { router: new Router(state(a)), audit: a as Auditor | undefined };
  })(),
};
type Name = keyof typeof configs;

const params = (i: number) => ({
  name: `b${i % 20}_tool_${i % 50}`,
  arguments: { message: `hello ${i}`, city: "Lisbon", units: "metric", token: "s3cr3t", n: i },
});

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const latencies: Record<Name, number[]> = { off: [], on: [], onWithData: [] };
const cpu: Record<Name, number[]> = { off: [], on: [], onWithData: [] };

async function round(name: Name, n: number, record: boolean): Promise<void> {
  const { router, audit } = configs[name];
  const lat: number[] = [];
  const begin = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await router.callTool(session, params(i), { requestId: i, signal: AbortSignal.any([]) });
    lat.push((performance.now() - t) * 1000);
  }
  await audit?.flush(); // the background work belongs to the calls that caused it
  const used = process.cpuUsage(begin);
  const perCall = (used.user + used.system) / n;
  if (!record) return;
  latencies[name].push(...lat);
  cpu[name].push(perCall);
}

const names = Object.keys(configs) as Name[];
for (const name of names) await round(name, 2000, false); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const name of names) await round(name, N / ROUNDS, true);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const latency = Object.fromEntries(names.map((n) => [n, +p50(latencies[n]).toFixed(2)]));
const cpuPerCall = Object.fromEntries(names.map((n) => [n, +mean(cpu[n]).toFixed(2)]));
const lines = (await Deno.readTextFile(`${dir}/data.log`)).split("\n").filter(Boolean);
const result = {
  calls: N,
  callP50us: latency,
  callP50Ratio: {
    on: +(latency.on! / latency.off!).toFixed(2),
    onWithData: +(latency.onWithData! / latency.off!).toFixed(2),
  },
  cpuPerCallUs: cpuPerCall,
  cpuPerCallAddedUs: {
    on: +(cpuPerCall.on! - cpuPerCall.off!).toFixed(2),
    onWithData: +(cpuPerCall.onWithData! - cpuPerCall.off!).toFixed(2),
  },
  cpuPerCallRatio: {
    on: +(cpuPerCall.on! / cpuPerCall.off!).toFixed(2),
    onWithData: +(cpuPerCall.onWithData! / cpuPerCall.off!).toFixed(2),
  },
  eventBytes: Math.round(lines.reduce((a, l) => a + l.length + 1, 0) / lines.length),
  sampleEvent: JSON.parse(lines.at(-1)!),
};
for (const t of trails) await t.close();
await Deno.remove(dir, { recursive: true });
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"));
