/**
 * Background service processes for the test harness.
 *
 * Output goes straight to a log file through the shell (`exec bin args >>log 2>&1`), so the
 * harness holds no pipes whose pending reads would trip Deno's test op sanitizer.
 */

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit status once the process has ended. */
  readonly status: Promise<Deno.CommandStatus>;
  /** True until the process has exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Synchronous SIGKILL for unload handlers (no waiting). */
  killNow(): void;
}

export interface SpawnServiceOptions {
  name: string;
  bin: string;
  args: string[];
  logPath: string;
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * `setpriv --pdeathsig KILL` (util-linux) makes the kernel kill the service when the Deno
 * process that started it dies, even by SIGKILL, when no unload handler runs.
 */
const DEATH_SIG = (() => {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile ? "/usr/bin/setpriv --pdeathsig KILL -- " : "";
  } catch {
    return "";
  }
})();

/** Starts `bin args` with stdout and stderr appended to `logPath`. */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `exec ${DEATH_SIG}"$0" "$@" >>"$VMCP_SERVICE_LOG" 2>&1`,
      options.bin,
      ...options.args,
    ],
    env: { ...options.env, VMCP_SERVICE_LOG: options.logPath },
    cwd: options.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const signal = (sig: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  return {
    name: options.name,
    pid: child.pid,
    logPath: options.logPath,
    status,
    running: () => !exited,
    async stop(graceMs = 10_000) {
      if (exited) {
        await status;
        return;
      }
      signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          signal("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([status, killed]);
      clearTimeout(timer);
      await status;
    },
    killNow() {
      signal("SIGKILL");
    },
  };
}

/** The last `maxChars` characters of a log file, for error messages. */
export async function logTail(path: string, maxChars = 4000): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.length > maxChars ? "…" + text.slice(-maxChars) : text;
  } catch {
    return "(no log)";
  }
}

/** Fails with the log tail if `proc` exits before `ready` resolves. */
export async function raceExit<T>(proc: ServiceProcess, ready: Promise<T>): Promise<T> {
  let settled = false;
  const exited = proc.status.then(async (s) => {
    if (settled) return undefined as never;
    throw new Error(
      `${proc.name} exited with code ${s.code} during start-up; log ${proc.logPath}:\n` +
        (await logTail(proc.logPath)),
    );
  });
  try {
    return await Promise.race([ready, exited]);
  } finally {
    settled = true;
  }
}
