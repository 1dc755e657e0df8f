/**
 * Runs `vmcp --mode=controller` as a real child process against a test cluster.
 */
import { type ServiceProcess, spawnService } from "../harness/process.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface ControllerProcessOptions {
  kubeconfigPath: string;
  identity: string;
  /** Namespace the controller watches. */
  watchNamespace: string;
  leaseNamespace: string;
  leaseSeconds?: number;
  renewSeconds?: number;
  retrySeconds?: number;
  logDir: string;
}

/** Starts one controller process; its JSON log lines go to `<logDir>/<identity>.log`. */
export function startControllerProcess(o: ControllerProcessOptions): ServiceProcess {
  return spawnService({
    name: `controller ${o.identity}`,
    bin: Deno.execPath(),
    logPath: `${o.logDir}/${o.identity}.log`,
    args: [
      "run",
      "-A",
      MAIN,
      "--mode=controller",
      `--kubeconfig=${o.kubeconfigPath}`,
      `--namespace=${o.watchNamespace}`,
      `--lease-namespace=${o.leaseNamespace}`,
      `--lease-duration=${o.leaseSeconds ?? 15}`,
      `--renew-deadline=${o.renewSeconds ?? 10}`,
      `--retry-period=${o.retrySeconds ?? 1}`,
      `--id=${o.identity}`,
      "--metrics-port=0",
      "--proxy-image=example.test/vmcp:test",
    ],
    env: { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
  });
}

/** Parsed JSON log lines of a process (non-JSON lines are skipped). */
export async function logLines(proc: ServiceProcess): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(proc.logPath).catch(() => "");
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    try {
      out.push(JSON.parse(line));
    } catch {
      // not a log line
    }
  }
  return out;
}
