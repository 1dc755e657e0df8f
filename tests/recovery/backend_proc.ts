/**
 * Starts `backend_child.ts` as a real process on a fixed loopback port, and kills and restarts
 * it on that same port (a crashed backend coming back with no memory of its sessions).
 * @module
 */
import { freePort, waitForPort } from "../harness/ports.ts";
import { logTail, type ServiceProcess, spawnService } from "../harness/process.ts";
import { repoRoot } from "../fixtures/mod.ts";
import type { Execution } from "./backend_child.ts";

export type { Execution };

export interface BackendProcOptions {
  /** Backend name (tool prefix). @default "b" */
  name?: string;
  /** @default a free port */
  port?: number;
  /** Execution log (one JSON line per `work` call that ran). */
  execLog?: string;
  jsonResponse?: boolean;
  /** Default duration of a `work` call. @default 0 */
  workMs?: number;
  /** Process log (stdout/stderr). @default a temp file */
  logPath?: string;
}

export interface BackendProc {
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  /** The current process (replaced by `restart`). */
  readonly proc: ServiceProcess;
  /** SIGKILL; resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts a new process on the same port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** SIGTERM (then SIGKILL). */
  stop(): Promise<void>;
}

/** Starts the backend process and waits until it accepts connections. */
export async function startBackendProc(opts: BackendProcOptions = {}): Promise<BackendProc> {
  const name = opts.name ?? "b";
  const port = opts.port ?? freePort();
  const logPath = opts.logPath ?? await Deno.makeTempFile({ prefix: `vmcp-backend-${name}-` });
  const args = ["run", "-A", "tests/recovery/backend_child.ts", "--port", String(port)];
  args.push("--name", name, "--work-ms", String(opts.workMs ?? 0));
  if (opts.execLog) args.push("--log", opts.execLog);
  if (opts.jsonResponse) args.push("--json-response");
  const spawn = async (): Promise<ServiceProcess> => {
    const proc = spawnService({ name, bin: Deno.execPath(), args, logPath, cwd: repoRoot });
    try {
      await waitForPort(port, 30_000);
    } catch (err) {
      await proc.stop(500);
      throw new Error(`backend ${name}: ${(err as Error).message}\n${await logTail(logPath)}`);
    }
    return proc;
  };
  let proc = await spawn();
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    get proc() {
      return proc;
    },
    async kill() {
      proc.killNow();
      await proc.status;
    },
    async restart() {
      if (proc.running()) {
        proc.killNow();
        await proc.status;
      }
      proc = await spawn();
    },
    async stop() {
      await proc.stop(2000);
      if (!opts.logPath) await Deno.remove(logPath).catch(() => {});
    },
  };
}

/** Reads an execution log (missing file: none). */
export async function readExecutions(path: string): Promise<Execution[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Execution);
}
