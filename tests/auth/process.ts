/**
 * The real binary (`main.ts --mode=proxy`) as a child process with a config file and extra
 * environment, its stderr (the JSON log) captured in full.
 * @module
 */
import { freePort, waitForPort } from "../harness/ports.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface ProxyProcess {
  url: string;
  origin: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM; resolves with the exit code once the process ended and stderr is drained. */
  stop(): Promise<number>;
}

/** Starts the proxy on a free port and waits until `/readyz` answers 200. */
export async function spawnProxy(
  config: unknown,
  env: Record<string, string>,
  opts: { logLevel?: "debug" | "info" } = {},
): Promise<ProxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-auth-" });
  const file = `${dir}/vmcp.json`;
  await Deno.writeTextFile(file, JSON.stringify(config));
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "--mode=proxy",
      "--config",
      file,
      "--port",
      String(port),
      "--log-level",
      opts.logLevel ?? "debug",
    ],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      log += value;
    }
  })();
  let stopped: Promise<number> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      const status = await child.status;
      await reading;
      await Deno.remove(dir, { recursive: true });
      return status.code;
    })();
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 30_000);
    for (let i = 0;; i++) {
      const r = await fetch(`${origin}/readyz`);
      await r.body?.cancel();
      if (r.status === 200) break;
      if (i > 200) throw new Error(`proxy never became ready:\n${log}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { url: `${origin}/mcp`, origin, stderr: () => log, stop };
}
