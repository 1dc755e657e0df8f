/**
 * CPU time and memory of a process under test, read from Linux `/proc/<pid>/{stat,status}`.
 * @module
 */

/** One reading of a process. */
export interface ProcSample {
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Resident set size now, KiB. */
  rssKiB: number;
  /** Peak resident set size (since start or since the last `resetPeak`), KiB. */
  hwmKiB: number;
}

let clockTicks: number | undefined;

async function ticksPerSecond(): Promise<number> {
  if (clockTicks !== undefined) return clockTicks;
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    clockTicks = Number(new TextDecoder().decode(out.stdout).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  return clockTicks;
}

/** Reads CPU seconds, RSS and peak RSS of `pid`. */
export async function readProc(pid: number): Promise<ProcSample> {
  const [stat, status, hz] = await Promise.all([
    Deno.readTextFile(`/proc/${pid}/stat`),
    Deno.readTextFile(`/proc/${pid}/status`),
    ticksPerSecond(),
  ]);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { cpuSeconds: (utime + stime) / hz, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

/** Resets the peak RSS (VmHWM) of `pid` to its current RSS; false where the kernel refuses. */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds used and peak RSS between `start()` and `stop()`. */
export interface ProcMeter {
  stop(): Promise<{ cpuSeconds: number; peakRssKiB: number; rssKiB: number }>;
}

/** Starts measuring `pid`: resets its peak RSS and records its CPU time. */
export async function meter(pid: number): Promise<ProcMeter> {
  await resetPeak(pid);
  const before = await readProc(pid);
  return {
    async stop() {
      const after = await readProc(pid);
      return {
        cpuSeconds: after.cpuSeconds - before.cpuSeconds,
        peakRssKiB: after.hwmKiB,
        rssKiB: after.rssKiB,
      };
    },
  };
}
