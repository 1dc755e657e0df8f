/**
 * A real redis-server for tests, on a free loopback port with no persistence.
 *
 * `getTestRedis()` returns the server shared by the test run (VMCP_TEST_REDIS_URL, set by
 * `tests/run.ts`) or starts one for this process. As with the kube harness, call it at module
 * top level when running a test file on its own, so the sanitizers stay quiet.
 */
import { freePort, waitForPort } from "./ports.ts";
import { logTail, raceExit, type ServiceProcess, spawnService } from "./process.ts";

export interface TestRedis {
  /** redis://[:password@]127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly password: string | undefined;
  /** Stops the server and removes its temp dir. A no-op for a shared server. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port (all data is lost). */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** Require this password (`requirepass`). */
  password?: string;
  /** Extra redis-server arguments, e.g. ["--maxmemory", "10mb"]. */
  args?: string[];
  /** Default 20 s. */
  startTimeoutMs?: number;
}

function onPath(bin: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Makes sure `redis-server` is on PATH, installing Debian's package (as root) if it is not. */
export async function ensureRedisServer(): Promise<void> {
  if (onPath("redis-server")) return;
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server",
    ],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success || !onPath("redis-server")) {
    throw new Error(
      `ensureRedisServer: redis-server is not on PATH and apt-get install failed (exit ${out.code})`,
    );
  }
}

/** Resolves once the server answers PING (+PONG, or -NOAUTH when a password is set). */
async function waitForPing(port: number, proc: ServiceProcess, timeoutMs: number) {
  await waitForPort(port, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && proc.running()) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buf = new Uint8Array(64);
        const n = await conn.read(buf);
        const reply = new TextDecoder().decode(buf.subarray(0, n ?? 0));
        if (reply.startsWith("+PONG") || reply.startsWith("-NOAUTH")) return;
      } finally {
        conn.close();
      }
    } catch {
      // retry
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${timeoutMs} ms; log:\n` +
      (await logTail(proc.logPath)),
  );
}

/** Starts redis-server on a free 127.0.0.1 port (no RDB, no AOF). */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  await ensureRedisServer();
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const dir = await Deno.makeTempDir({ prefix: "vmcp-redis-" });
  let proc: ServiceProcess | undefined;
  const onUnload = () => {
    proc?.killNow();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // best effort
    }
  };
  globalThis.addEventListener("unload", onUnload);
  const port = freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--daemonize",
    "no",
    "--protected-mode",
    options.password ? "yes" : "no",
    ...(options.password ? ["--requirepass", options.password] : []),
    ...(options.args ?? []),
  ];
  const start = async () => {
    proc = spawnService({
      name: "redis-server",
      bin: "redis-server",
      args,
      logPath: `${dir}/redis.log`,
    });
    await raceExit(proc, waitForPing(port, proc, timeoutMs));
  };
  const cleanup = async () => {
    globalThis.removeEventListener("unload", onUnload);
    await proc?.stop(5_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await start();
  } catch (err) {
    await cleanup();
    throw err;
  }
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  let stopped = false;
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    password: options.password,
    async restart() {
      if (stopped) throw new Error("restart: the redis server was stopped");
      await proc!.stop(5_000);
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await cleanup();
    },
  };
}

let processRedis: Promise<TestRedis> | undefined;

/**
 * The redis for tests: the shared one at VMCP_TEST_REDIS_URL when set (stop/restart are not
 * available on it), else one started for this process and killed when the process unloads.
 */
export function getTestRedis(): Promise<TestRedis> {
  processRedis ??= (async () => {
    const shared = Deno.env.get("VMCP_TEST_REDIS_URL");
    if (shared) {
      const u = new URL(shared);
      return {
        url: shared,
        port: Number(u.port || 6379),
        password: u.password ? decodeURIComponent(u.password) : undefined,
        stop: () => Promise.resolve(),
        restart: () =>
          Promise.reject(
            new Error("restart: not possible on the shared test redis; use startRedis()"),
          ),
      };
    }
    const own = await startRedis();
    return { ...own, stop: () => Promise.resolve() };
  })();
  return processRedis;
}
