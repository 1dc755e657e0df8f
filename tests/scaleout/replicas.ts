/**
 * Real proxy replicas for the scale-out tests and bench: `deno run -A main.ts --mode=proxy
 * --config <file> --port <p>` processes sharing one config (sessionStorage: redis), behind the
 * round-robin balancer fixture.
 * @module
 */
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { freePort } from "../harness/ports.ts";
import { logTail, type ServiceProcess, spawnService } from "../harness/process.ts";
import { repoRoot } from "../fixtures/mod.ts";

export interface Replica {
  readonly name: string;
  /** `http://127.0.0.1:<port>` (a balancer target). */
  readonly origin: string;
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  readonly proc: ServiceProcess;
  /** Log file of the process (JSON lines). */
  readonly logPath: string;
}

/** Writes `config` (JSON is valid YAML) into a new temp dir; returns the file path. */
export async function writeConfig(config: VmcpConfigInput): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-scaleout-" });
  const path = `${dir}/vmcp.yaml`;
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** Resolves once `GET /readyz` answers 200 (first discovery done); throws with the log tail. */
async function waitReady(r: Replica, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!r.proc.running()) break;
    try {
      const res = await fetch(`${r.origin}/readyz`);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(
    `replica ${r.name} not ready after ${timeoutMs} ms:\n${await logTail(r.logPath)}`,
  );
}

/**
 * Starts one proxy process on a free port and waits until it is ready. A port found free can be
 * taken by another process before the proxy binds it; then (the process exits with AddrInUse)
 * it starts again on another port, up to three times.
 */
export async function startReplica(
  name: string,
  configPath: string,
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Replica> {
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const logPath = attempt === 1
      ? `${configPath}.${name}.log`
      : `${configPath}.${name}.${attempt}.log`;
    const proc = spawnService({
      name,
      bin: Deno.execPath(),
      args: [
        "run",
        "-A",
        "main.ts",
        "--mode=proxy",
        "--config",
        configPath,
        "--port",
        String(port),
      ],
      logPath,
      cwd: repoRoot,
      env: { VMCP_LOG_LEVEL: "info", ...opts.env },
    });
    const origin = `http://127.0.0.1:${port}`;
    const r: Replica = { name, origin, url: `${origin}/mcp`, proc, logPath };
    try {
      await waitReady(r, opts.timeoutMs ?? 30_000);
      return r;
    } catch (err) {
      await proc.stop(500);
      const lostPort = !proc.running() && (await logTail(logPath)).includes("AddrInUse");
      if (!lostPort || attempt >= 3) throw err;
    }
  }
}

/** SIGKILL, no grace: the replica vanishes mid-run (open streams break). */
export async function killReplica(r: Replica): Promise<void> {
  r.proc.killNow();
  await r.proc.status;
}
