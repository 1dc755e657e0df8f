/**
 * The benchmark harness: `deno task bench [flags]`.
 *
 *   --scenarios a,b      scenario names (bench/scenarios/<name>.ts; default all; --list shows them)
 *   --proxies vmcp,toolhive   proxies under test (default both; direct is always the baseline)
 *   --quick              small sizes (seconds, for a look)
 *   --calls N --warmup N --concurrency 1,16,64 --max-seconds S
 *   --list-backends N --list-tools N --list-sessions N --list-calls N --idle-sessions N
 *   --sse                backends reply with SSE streams (default: plain JSON)
 *   --peer-bin PATH      ToolHive vMCP binary (default ~/.cache/vmcp/peer/<newest>/vmcp)
 *   --out DIR            results folder (default bench/results; --no-write to skip)
 *   --render FILE        only rewrite latest.{md,svg} (and json) in --out from a results JSON
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { type BenchReport, markdown, writeReport } from "./report.ts";
import { proxyTarget, repoRoot, startBackends, toolhiveLaunch, vmcpLaunch } from "./targets.ts";
import type {
  BenchContext,
  BenchSizes,
  ProxyKind,
  ScenarioModule,
  ScenarioResult,
} from "./types.ts";

export const DEFAULT_SIZES: BenchSizes = {
  calls: 2000,
  warmup: 200,
  concurrency: [1, 16, 64],
  maxSeconds: 30,
  listBackends: 20,
  listTools: 50,
  listSessions: 50,
  listCalls: 500,
  idleSessions: 10_000,
  jsonResponse: true,
};

export const QUICK_SIZES: BenchSizes = {
  ...DEFAULT_SIZES,
  calls: 200,
  warmup: 20,
  maxSeconds: 5,
  listSessions: 10,
  listCalls: 50,
  idleSessions: 500,
};

export interface BenchOptions {
  scenarios?: string[];
  proxies?: ProxyKind[];
  sizes: BenchSizes;
  peerBin?: string;
  /** Results folder; undefined writes nothing. */
  outDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const stderr = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));

/** Every scenario module in bench/scenarios, in run order. */
export async function loadScenarios(): Promise<ScenarioModule[]> {
  const dir = join(repoRoot, "bench/scenarios");
  const mods: ScenarioModule[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    const mod = await import(new URL(`./scenarios/${e.name}`, import.meta.url).href);
    if (typeof mod.name !== "string" || typeof mod.run !== "function") {
      throw new Error(`bench/scenarios/${e.name}: must export name (string) and run(ctx)`);
    }
    mods.push(mod as ScenarioModule);
  }
  return mods.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.name.localeCompare(b.name));
}

/** Runs the selected scenarios and (with `outDir`) writes latest.{json,md,svg}. */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? stderr;
  const started = new Date();
  const load0 = await loadavg();
  const t0 = performance.now();
  const all = await loadScenarios();
  const wanted = opts.scenarios?.length ? opts.scenarios : all.map((s) => s.name);
  const unknown = wanted.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) {
    throw new Error(
      `--scenarios: ${unknown.join(", ")} not found; known: ${all.map((s) => s.name).join(", ")}`,
    );
  }
  const workDir = await Deno.makeTempDir({ prefix: "vmcp-bench-" });
  const kinds = opts.proxies ?? ["vmcp", "toolhive"];
  const launches = await Promise.all(
    kinds.map((k) => (k === "vmcp" ? vmcpLaunch() : toolhiveLaunch(opts.peerBin))),
  );
  const proxies = launches.map((l) => proxyTarget(l, workDir));
  const ctx: BenchContext = {
    sizes: opts.sizes,
    proxies,
    startBackends: (specs) =>
      startBackends(specs, { workDir, jsonResponse: opts.sizes.jsonResponse }),
    log,
    workDir,
    signal: opts.signal ?? new AbortController().signal,
  };
  for (const p of proxies) if (p.unavailable) log(`skipping ${p.label}: ${p.unavailable}`);
  const scenarios: ScenarioResult[] = [];
  for (const s of all.filter((m) => wanted.includes(m.name))) {
    log(`scenario ${s.name}: ${s.description ?? ""}`);
    try {
      scenarios.push(await s.run(ctx));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      log(`scenario ${s.name} failed: ${msg}`);
      scenarios.push({ name: s.name, rows: [], skipped: [`whole scenario: ${msg}`], notes: [] });
    }
  }
  const report: BenchReport = {
    startedAt: started.toISOString(),
    seconds: (performance.now() - t0) / 1000,
    machine: {
      cpus: navigator.hardwareConcurrency,
      memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.osRelease()}`,
      loadavg: [load0, await loadavg()],
    },
    sizes: opts.sizes,
    proxies: proxies.map((p) => ({
      label: p.label,
      ...(p.unavailable ? { unavailable: p.unavailable } : {}),
    })),
    scenarios,
    notes: await peerBuildNotes(kinds),
  };
  if (opts.outDir) {
    for (const f of await writeReport(opts.outDir, report)) log(`wrote ${f}`);
  }
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  return report;
}

async function loadavg(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** The outcome of the last ToolHive build attempt(s), kept beside the numbers. */
async function peerBuildNotes(kinds: ProxyKind[]): Promise<string[]> {
  if (!kinds.includes("toolhive")) return [];
  try {
    return [(await Deno.readTextFile(join(repoRoot, "bench/peer/BUILD_NOTES.md"))).trim()];
  } catch {
    return [];
  }
}

function list(v: string | undefined): string[] | undefined {
  return v?.split(",").map((s) => s.trim()).filter(Boolean);
}

function int(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag}: "${v}" is not a whole number ≥ 0`);
  return n;
}

const STRING_FLAGS = [
  "scenarios",
  "proxies",
  "calls",
  "warmup",
  "concurrency",
  "max-seconds",
  "list-backends",
  "list-tools",
  "list-sessions",
  "list-calls",
  "idle-sessions",
  "peer-bin",
  "out",
  "render",
];
const BOOL_FLAGS = ["quick", "sse", "no-write", "list"];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      ...Object.fromEntries(STRING_FLAGS.map((k) => [k, { type: "string" as const }])),
      ...Object.fromEntries(BOOL_FLAGS.map((k) => [k, { type: "boolean" as const }])),
    },
  });
  const v = values as Record<string, string | undefined> & Record<string, unknown>;
  if (v.list) {
    for (const s of await loadScenarios()) stderr(`${s.name}\t${s.description ?? ""}`);
    Deno.exit(0);
  }
  if (typeof v.render === "string") {
    const rep = JSON.parse(await Deno.readTextFile(v.render)) as BenchReport;
    for (const f of await writeReport(v.out ?? join(repoRoot, "bench/results"), rep)) stderr(f);
    Deno.exit(0);
  }
  const base = v.quick ? QUICK_SIZES : DEFAULT_SIZES;
  const sizes: BenchSizes = {
    calls: int("calls", v.calls, base.calls),
    warmup: int("warmup", v.warmup, base.warmup),
    concurrency: list(v.concurrency)?.map((c) => int("concurrency", c, 1)) ?? base.concurrency,
    maxSeconds: int("max-seconds", v["max-seconds"], base.maxSeconds),
    listBackends: int("list-backends", v["list-backends"], base.listBackends),
    listTools: int("list-tools", v["list-tools"], base.listTools),
    listSessions: int("list-sessions", v["list-sessions"], base.listSessions),
    listCalls: int("list-calls", v["list-calls"], base.listCalls),
    idleSessions: int("idle-sessions", v["idle-sessions"], base.idleSessions),
    jsonResponse: !v.sse,
  };
  const proxies = list(v.proxies) as ProxyKind[] | undefined;
  for (const p of proxies ?? []) {
    if (p !== "vmcp" && p !== "toolhive") {
      throw new Error(`--proxies: "${p}" is not vmcp or toolhive`);
    }
  }
  const abort = new AbortController();
  Deno.addSignalListener("SIGINT", () => abort.abort());
  const report = await runBench({
    sizes,
    ...(list(v.scenarios) ? { scenarios: list(v.scenarios)! } : {}),
    ...(proxies ? { proxies } : {}),
    ...(v["peer-bin"] ? { peerBin: v["peer-bin"] } : {}),
    ...(v["no-write"] ? {} : { outDir: v.out ?? join(repoRoot, "bench/results") }),
    signal: abort.signal,
  });
  Deno.stdout.writeSync(new TextEncoder().encode(markdown(report)));
  Deno.exit(0);
}
