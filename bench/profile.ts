/**
 * CPU profile of the vmcp proxy under `tools/call` load, taken through the V8 inspector
 * (`--inspect` + the Chrome DevTools Protocol `Profiler` domain over a WebSocket).
 *
 *   deno run -A bench/profile.ts [--concurrency 16] [--calls 6000] [--interval 50] [--top 40]
 *                                [--out FILE.cpuprofile] [--raw legacy|modern]
 *
 * Prints self time per function (and per file) as a share of the proxy's sampled time. The
 * `.cpuprofile` it can write opens in Chrome DevTools. With `--raw`, the load is raw HTTP in one
 * protocol era (bench/raw_load.ts: same client cost for both) instead of SDK clients. Frames of Deno's inspector network
 * bridge (added to every fetch while an inspector is attached) are reported apart.
 * @module
 */

import { parseArgs } from "node:util";
import { freePort } from "../tests/harness/ports.ts";
import { callTool, runLoad } from "./load.ts";
import { type RawEra, runRawLoad } from "./raw_load.ts";
import { proxyTarget, startBackends, vmcpLaunch } from "./targets.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A minimal CDP session: numbered requests over one WebSocket. */
async function cdp(wsUrl: string) {
  const ws = new WebSocket(wsUrl);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = fail;
  });
  let next = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data as string);
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result ?? msg.error);
  };
  return {
    send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
      const id = ++next;
      return new Promise((ok) => {
        pending.set(id, ok);
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
  };
}

function short(url: string): string {
  const i = url.indexOf("/node_modules/.deno/");
  if (i >= 0) return url.slice(i + 20).replace(/\/node_modules\/[^/]+(\/[^/]+)?\//, ":");
  return url.replace(/^file:\/\/.*?\/(proxy|core|crds|bench)\//, "$1/").replace(/^ext:/, "ext:");
}

/** Self-time shares by function and by file. */
export function summarize(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let idle = 0;
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") {
      idle += t;
      continue;
    }
    const key = `${f.functionName || "(anon)"} ${short(f.url)}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + t);
    const fk = short(f.url) || f.functionName;
    file.set(fk, (file.get(fk) ?? 0) + t);
  }
  const busy = total - idle;
  const pct = (t: number) => `${(100 * t / busy).toFixed(1).padStart(5)}%`;
  const lines = [`sampled ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s`];
  lines.push("", "self time by function (share of busy):");
  for (const [k, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${pct(t)}  ${k}`);
  }
  // Inclusive time: a node's self time plus its descendants', summed per function (a function
  // that appears twice on one stack is counted once per appearance).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, t] of self) {
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      const key = `${f.functionName || "(anon)"} ${short(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(key) || f.functionName === "(root)") continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + t);
    }
  }
  lines.push("", "inclusive time by function (share of busy):");
  for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${pct(t)}  ${k}`);
  }
  lines.push("", "self time by file:");
  for (const [k, t] of [...file].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${pct(t)}  ${k}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      concurrency: { type: "string", default: "16" },
      calls: { type: "string", default: "6000" },
      interval: { type: "string", default: "50" },
      top: { type: "string", default: "40" },
      out: { type: "string" },
      raw: { type: "string" },
    },
  });
  const workDir = await Deno.makeTempDir({ prefix: "vmcp-profile-" });
  const backends = await startBackends([{ name: "b0" }], { workDir, jsonResponse: true });
  const inspectPort = freePort();
  const launch = await vmcpLaunch();
  launch.args.splice(1, 0, `--inspect=127.0.0.1:${inspectPort}`);
  const subject = await proxyTarget(launch, workDir).start(
    [{ name: "b0", url: backends.urls.b0! }],
    {},
  );
  try {
    await subject.ready!(1);
    const tool = subject.toolName("b0", "echo");
    const op = callTool(tool);
    if (v.raw !== undefined && v.raw !== "legacy" && v.raw !== "modern") {
      throw new Error(`--raw "${v.raw}": expected legacy or modern`);
    }
    const era = v.raw as RawEra | undefined;
    const load = (concurrency: number, calls: number) =>
      era
        ? runRawLoad({ url: subject.url, era, tool, concurrency, calls, warmup: 0 })
        : runLoad({ url: subject.url, concurrency, calls, warmup: 0, op });
    await load(1, 2000); // JIT warm-up
    const targets = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
    const session = await cdp(targets[0].webSocketDebuggerUrl);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: Number(v.interval) });
    await session.send("Profiler.start");
    const stats = await load(Number(v.concurrency), Number(v.calls));
    const { profile } = await session.send("Profiler.stop") as { profile: Profile };
    session.close();
    const out = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
    out(
      `c=${v.concurrency}: p50 ${stats.p50.toFixed(3)} ms, ${stats.throughput.toFixed(0)} calls/s`,
    );
    out(summarize(profile, Number(v.top)));
    if (v.out) await Deno.writeTextFile(v.out, JSON.stringify(profile));
  } finally {
    await subject.stop();
    await backends.stop();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}
