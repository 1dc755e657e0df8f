/**
 * The processes a bench measures: test backends (one child process), vmcp (`main.ts
 * --mode=proxy`) and ToolHive's vMCP (a Go binary), each started as a subprocess on 127.0.0.1
 * so its CPU time and RSS can be read from /proc.
 * @module
 */

import { join } from "node:path";
import { freePort, waitForPort } from "../tests/harness/ports.ts";
import { logTail, raceExit, type ServiceProcess, spawnService } from "../tests/harness/process.ts";
import { closeClient, connectClient } from "./load.ts";
import type { ProxyKind, ProxyTarget } from "./types.ts";

/** One test backend to serve (see `tests/fixtures/backend.ts`). */
export interface BackendSpec {
  name: string;
  /** Generated tools `tool_0..`. @default 0 */
  tools?: number;
  /** Built-in tools (echo, add, …). @default true */
  builtins?: boolean;
  latencyMs?: number;
  /** Accepts connections, never answers. */
  hung?: boolean;
}

/** Running backends: one child process serving all of them. */
export interface BackendSet {
  urls: Record<string, string>;
  pid: number;
  stop(): Promise<void>;
}

/** A process under test that clients reach at `url`. */
export interface Subject {
  /** "direct", "vmcp", "toolhive v…". */
  label: string;
  url: string;
  /** Pid of the process under test (the proxy, or the backend child for direct). */
  pid: number;
  /** The tool name clients call for `tool` of backend `backend`. */
  toolName(backend: string, tool: string): string;
  /** Proxies: resolves once a client can list at least `minTools` tools through `url`. */
  ready?(minTools: number, timeoutMs?: number): Promise<void>;
  /** Proxies: ms from spawning the process to the first successful listing (set by `ready`). */
  readyMs?: number;
  stop(): Promise<void>;
}

export const repoRoot: string = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

function childEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  // Deno's fetch honours HTTP_PROXY even for loopback unless NO_PROXY lists it.
  env.NO_PROXY = env.no_proxy = ["127.0.0.1", "localhost", env.NO_PROXY].filter(Boolean).join(",");
  return env;
}

async function waitFile(path: string, proc: ServiceProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  return await raceExit(
    proc,
    (async () => {
      while (Date.now() < deadline) {
        try {
          return await Deno.readTextFile(path);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error(`${proc.name}: ${path} not written within ${timeoutMs} ms`);
    })(),
  );
}

let serial = 0;

/** Starts `specs` in one backend child process; resolves once all listen. */
export async function startBackends(
  specs: BackendSpec[],
  opts: { workDir: string; jsonResponse: boolean },
): Promise<BackendSet> {
  const id = ++serial;
  const out = join(opts.workDir, `backends-${id}.json`);
  const proc = spawnService({
    name: `backends-${id}`,
    bin: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--cached-only",
      join(repoRoot, "bench/backend_child.ts"),
      JSON.stringify(specs),
      out,
      ...(opts.jsonResponse ? ["--json-response"] : []),
    ],
    logPath: join(opts.workDir, `backends-${id}.log`),
    env: childEnv(),
    cwd: repoRoot,
  });
  try {
    const urls = JSON.parse(await waitFile(out, proc, 60_000)) as Record<string, string>;
    return { urls, pid: proc.pid, stop: () => proc.stop(3000) };
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
}

/** The backends reached directly (the baseline): the URL of `backend`. */
export function directSubject(set: BackendSet, backend: string): Subject {
  const url = set.urls[backend];
  if (!url) throw new Error(`directSubject: backend "${backend}" is not in the set`);
  return { label: "direct", url, pid: set.pid, toolName: (_b, t) => t, stop: async () => {} };
}

/**
 * The bare forwarder (bench/bare_forwarder.ts) in front of `backend`: the floor of one extra
 * HTTP hop on this runtime, measured beside the proxies.
 */
export async function startBareForwarder(
  set: BackendSet,
  backend: string,
  workDir: string,
): Promise<Subject> {
  const target = set.urls[backend];
  if (!target) throw new Error(`startBareForwarder: backend "${backend}" is not in the set`);
  const port = freePort();
  const id = ++serial;
  const proc = spawnService({
    name: `floor-${id}`,
    bin: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--cached-only",
      join(repoRoot, "bench/bare_forwarder.ts"),
      String(port),
      target,
    ],
    logPath: join(workDir, `floor-${id}.log`),
    env: childEnv(),
    cwd: repoRoot,
  });
  try {
    await raceExit(proc, waitForPort(port, 60_000));
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
  return {
    label: "floor (bare forwarder)",
    url: `http://127.0.0.1:${port}/mcp`,
    pid: proc.pid,
    toolName: (_b, t) => t,
    stop: () => proc.stop(3000),
  };
}

/**
 * The proxy config. vmcp's schema (crds/vmcp_config.ts) mirrors ToolHive's standalone format
 * (pkg/vmcp/config/config.go), except that ToolHive's `groupRef` is a plain string.
 */
export function proxyConfig(
  kind: ProxyKind,
  backends: { name: string; url: string }[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...extra,
    name: "bench",
    groupRef: kind === "toolhive" ? "bench" : { name: "bench" },
    incomingAuth: { type: "anonymous" },
    outgoingAuth: { source: "inline", default: { type: "unauthenticated" } },
    aggregation: {
      conflictResolution: "prefix",
      conflictResolutionConfig: { prefixFormat: "{workload}_" },
    },
    backends: backends.map((b) => ({ name: b.name, url: b.url, transport: "streamable-http" })),
  };
}

/**
 * Waits until a client can initialize and list at least `minTools` tools through `url`, so a
 * proxy's backend discovery is over before measuring.
 */
export async function waitReady(
  url: string,
  minTools: number,
  proc: ServiceProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  await raceExit(proc, waitForPort(Number(new URL(url).port), timeoutMs));
  while (Date.now() < deadline) {
    try {
      // A proxy may hold initialize until a hung backend times out: allow up to 60 s.
      const left = Math.max(1000, Math.min(60_000, deadline - Date.now()));
      const client = await connectClient(url, "bench-ready", left);
      try {
        const { tools } = await client.listTools(undefined, { timeout: left });
        if (tools.length >= minTools) return;
        last = `${tools.length} of ${minTools} tools listed`;
      } finally {
        await closeClient(client);
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (!proc.running()) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${proc.name} at ${url} not ready within ${timeoutMs} ms (${last}); log ${proc.logPath}:\n` +
      (await logTail(proc.logPath, 1500)),
  );
}

export interface ProxyLaunch {
  kind: ProxyKind;
  label: string;
  /** Command and args; `CONFIG` and `PORT` are replaced. */
  bin: string;
  args: string[];
  /** Endpoint path. */
  path: string;
  /** Reason the target cannot run, if any. */
  unavailable?: string;
}

/** A `ProxyTarget` that writes the config, spawns the proxy and waits until it is ready. */
export function proxyTarget(launch: ProxyLaunch, workDir: string): ProxyTarget {
  return {
    kind: launch.kind,
    label: launch.label,
    ...(launch.unavailable ? { unavailable: launch.unavailable } : {}),
    async start(backends, extra) {
      const id = ++serial;
      const config = join(workDir, `${launch.kind}-${id}.yaml`);
      // JSON is YAML: both proxies read it.
      await Deno.writeTextFile(
        config,
        JSON.stringify(proxyConfig(launch.kind, backends, extra), null, 2),
      );
      const port = freePort();
      const proc = spawnService({
        name: `${launch.kind}-${id}`,
        bin: launch.bin,
        args: launch.args.map((a) => a.replace("CONFIG", config).replace("PORT", String(port))),
        logPath: join(workDir, `${launch.kind}-${id}.log`),
        env: childEnv(),
        cwd: repoRoot,
      });
      const url = `http://127.0.0.1:${port}${launch.path}`;
      const spawned = performance.now();
      const subject: Subject = {
        label: launch.label,
        url,
        pid: proc.pid,
        toolName: (backend, tool) => `${backend}_${tool}`,
        stop: () => proc.stop(3000),
        ready: (minTools, timeoutMs) =>
          waitReady(url, minTools, proc, timeoutMs).then(() => {
            subject.readyMs = performance.now() - spawned;
          }, async (err) => {
            await proc.stop(1000);
            throw err;
          }),
      };
      return subject;
    },
  };
}

/** vmcp from this repository, run as `deno run -A main.ts --mode=proxy`. */
export async function vmcpLaunch(): Promise<ProxyLaunch> {
  const launch: ProxyLaunch = {
    kind: "vmcp",
    label: "vmcp",
    bin: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--cached-only",
      join(repoRoot, "main.ts"),
      "--mode=proxy",
      "--config",
      "CONFIG",
      "--host",
      "127.0.0.1",
      "--port",
      "PORT",
      "--log-level",
      "warn",
    ],
    path: "/mcp",
  };
  try {
    await Deno.stat(join(repoRoot, "proxy/main.ts"));
  } catch {
    launch.unavailable = "proxy/main.ts (runProxy) does not exist yet";
  }
  return launch;
}

/** ToolHive's vMCP binary built by bench/peer/build-toolhive-vmcp.sh, if present. */
export async function toolhiveLaunch(binary?: string): Promise<ProxyLaunch> {
  const root = join(Deno.env.get("HOME") ?? "/root", ".cache/vmcp/peer");
  let bin = binary;
  let version = "?";
  if (!bin) {
    const built: string[] = [];
    try {
      for await (const e of Deno.readDir(root)) {
        if (e.isDirectory && /^v\d/.test(e.name)) built.push(e.name);
      }
    } catch { /* no cache dir */ }
    for (const v of built.sort().reverse()) {
      try {
        await Deno.stat(join(root, v, "vmcp"));
        bin = join(root, v, "vmcp");
        version = v;
        break;
      } catch { /* not built */ }
    }
  }
  return {
    kind: "toolhive",
    label: `toolhive ${version}`,
    bin: bin ?? "vmcp",
    args: ["serve", "--config", "CONFIG", "--host", "127.0.0.1", "--port", "PORT"],
    path: "/mcp",
    ...(bin ? {} : {
      unavailable: `no ToolHive vMCP binary in ${root}/<version>/vmcp ` +
        `(run bench/peer/build-toolhive-vmcp.sh; see ${root}/*/install.log)`,
    }),
  };
}
