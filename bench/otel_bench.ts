/**
 * OpenTelemetry cost per call: `deno run -A bench/otel_bench.ts [--n=1000] [--rounds=3]`
 *
 * In one process: a real proxy (startProxy) in front of a real Streamable HTTP backend (JSON
 * answers), called by a real SDK client (`tools/call`, the JSON fast path). Each round measures
 * `--n` sequential calls (after 1000 warm-up calls, and 100 per mode) with telemetry off, tracing at samplingRate
 * 0.05 and tracing at samplingRate 1, in turn; the spans go over OTLP/HTTP to a local collector
 * stand-in that accepts and drops them (so export costs are in). Modes are interleaved across
 * rounds so a drifting machine affects all alike.
 *
 * Reports per mode: wall p50/p99 per call and CPU time per call (this process: client, proxy,
 * backend and exporter together), and each mode's ratio to "off" from the same run. `hooks`
 * times the instrumentation alone (server span, backend span, traceparent injection around a
 * no-op handler, exporting to the same sink), `--n`×20 calls per mode and round: the µs one call
 * adds, free of the end-to-end noise. Prints JSON on stdout.
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { serveHttpBackend } from "../tests/fixtures/serve_http.ts";
import { config, connect, proxy } from "../tests/proxy/helpers.ts";
import { startTelemetry, type TelemetryHandle } from "../proxy/telemetry/setup.ts";
import { TelemetryConfigSchema } from "../crds/telemetry.ts";
import { telemetry } from "../proxy/telemetry/instrument.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "1000" }, rounds: { type: "string", default: "3" } },
});
const N = Number(values.n);
const ROUNDS = Number(values.rounds);

const ac = new AbortController();
const sink = Deno.serve(
  { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
  async (req) => {
    await req.arrayBuffer();
    return new Response("{}", { headers: { "content-type": "application/json" } });
  },
);
const backend = await serveHttpBackend({ name: "alpha", jsonResponse: true });
const p = await proxy(config({ backends: [{ name: "alpha", url: backend.url }] }));
const c = await connect(p.url);

type Mode = "off" | "rate 0.05" | "rate 1";
const MODES: Mode[] = ["off", "rate 0.05", "rate 1"];
const samples: Record<Mode, { ms: number[]; cpuUs: number[] }> = {
  off: { ms: [], cpuUs: [] },
  "rate 0.05": { ms: [], cpuUs: [] },
  "rate 1": { ms: [], cpuUs: [] },
};

function start(mode: Mode): TelemetryHandle | undefined {
  if (mode === "off") return undefined;
  return startTelemetry(
    TelemetryConfigSchema.parse({
      endpoint: `http://127.0.0.1:${sink.addr.port}`,
      tracingEnabled: true,
      samplingRate: mode === "rate 1" ? 1 : 0.05,
    }),
  );
}

const call = () => c.client.callTool({ name: "alpha_echo", arguments: { message: "bench" } });

// JIT warm-up of the whole path before anything is measured.
for (let i = 0; i < 1000; i++) await call();

for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const handle = start(mode);
    for (let i = 0; i < 100; i++) await call();
    const cpu0 = process.cpuUsage();
    const ms: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await call();
      ms.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    samples[mode].ms.push(...ms);
    samples[mode].cpuUs.push((cpu.user + cpu.system) / N);
    await handle?.shutdown();
  }
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
const median = (xs: number[]) => pct(xs, 0.5);
const round3 = (x: number) => Math.round(x * 1000) / 1000;

const off = samples.off;
const out = Object.fromEntries(MODES.map((m) => {
  const s = samples[m];
  return [m, {
    p50Ms: round3(median(s.ms)),
    p99Ms: round3(pct(s.ms, 0.99)),
    cpuUsPerCall: Math.round(median(s.cpuUs)),
    p50Ratio: round3(median(s.ms) / median(off.ms)),
    cpuRatio: round3(median(s.cpuUs) / median(off.cpuUs)),
  }];
}));

// The hooks alone (no network, no proxy): what one call adds on the proxy's own CPU. The same
// request shape as a tools/call: server span (client traceparent), describe, backend span,
// traceparent injection; "off" runs the bare handler as the proxy does then.
const HOOK_N = N * 20;
const body = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha_echo" } };
const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
async function hookLoop(mode: Mode): Promise<number> {
  const handle = start(mode);
  const t = telemetry;
  const handler = async (req: Request) => {
    if (t) t.describe(req, body);
    const backend = () => Promise.resolve(t ? t.inject({}) : {});
    await (t ? t.backendCall("alpha", "tools/call", body.params, backend) : backend());
    return new Response("{}");
  };
  const once = (req: Request) => t ? t.serve(req, () => handler(req)) : handler(req);
  const mk = () =>
    new Request("http://127.0.0.1/mcp", { method: "POST", headers: { traceparent: tp } });
  for (let i = 0; i < 2000; i++) await once(mk());
  const t0 = performance.now();
  for (let i = 0; i < HOOK_N; i++) await once(mk());
  const us = (performance.now() - t0) * 1000 / HOOK_N;
  await handle?.shutdown();
  return us;
}
const hookUs: Record<Mode, number[]> = { off: [], "rate 0.05": [], "rate 1": [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) hookUs[mode].push(await hookLoop(mode));
}
const hooks = Object.fromEntries(MODES.map((m) => {
  const us = median(hookUs[m]);
  return [m, { usPerCall: round3(us), addedUs: round3(us - median(hookUs.off)) }];
}));

// deno-lint-ignore no-console
console.log(JSON.stringify({ calls: N, rounds: ROUNDS, modes: out, hooks }, null, 2));

await c.close();
await p.stop();
await backend.stop();
ac.abort();
await sink.finished;
