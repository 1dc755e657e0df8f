/**
 * The third-party reference server `@modelcontextprotocol/server-everything` in its own Streamable
 * HTTP mode (its Express app, sessionful, MCP 2025-11-25), as a child process on a free port.
 * Offline: `--cached-only`, as tests/fixtures/everything.ts does for stdio.
 * @module
 */
import { EVERYTHING_PACKAGE, repoRoot } from "../fixtures/everything.ts";
import { freePort, waitForPort } from "./ports.ts";
import { raceExit, spawnService } from "./process.ts";

export interface EverythingHttp {
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
  /** The server's process id (for SIGSTOP/SIGCONT). */
  pid: number;
  /** SIGKILL (a crashed backend); resolves once it has exited. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts server-everything's `streamableHttp` transport and waits until it accepts connections. */
export async function startEverythingHttp(): Promise<EverythingHttp> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "vmcp-everything-" });
  const proc = spawnService({
    name: "server-everything (streamableHttp)",
    bin: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--no-prompt",
      "--cached-only",
      "--config",
      `${repoRoot}/deno.json`,
      EVERYTHING_PACKAGE,
      "streamableHttp",
    ],
    env: { PORT: String(port) },
    cwd: repoRoot,
    logPath: `${dir}/everything.log`,
  });
  const onUnload = () => proc.killNow();
  globalThis.addEventListener("unload", onUnload);
  try {
    await raceExit(proc, waitForPort(port, 60_000));
  } catch (err) {
    globalThis.removeEventListener("unload", onUnload);
    await proc.stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    pid: proc.pid,
    kill: async () => {
      proc.killNow();
      await proc.status;
    },
    stop: async () => {
      globalThis.removeEventListener("unload", onUnload);
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
