/**
 * Runs tests/fixtures/py/client.py, a client on the official Python MCP SDK, and returns the
 * JSON events it printed (see that script's docstring for the event shapes).
 * @module
 */

/** One line the Python client printed. */
export interface PyEvent {
  event: string;
  [field: string]: unknown;
}

export interface PyCall {
  name: string;
  arguments?: Record<string, unknown>;
}

export interface PyClientOptions {
  /** Interpreter from `provisionPythonMcp()`. */
  python: string;
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** SDK negotiation mode. @default "auto" (probe server/discover, fall back to initialize) */
  mode?: "auto" | "legacy" | "2026-07-28";
  calls?: PyCall[];
  /** Canned `ElicitResult` answered to every elicitation; without it, no elicitation capability. */
  elicit?: { action: "accept" | "decline" | "cancel"; content?: Record<string, unknown> };
  /** Assistant text answered to every sampling request; without it, no sampling capability. */
  sample?: string;
  /** Opt in to log messages at this level. */
  logLevel?: string;
  /** Whole-run deadline. @default 120 s */
  timeoutMs?: number;
}

export interface PyClientRun {
  code: number;
  events: PyEvent[];
  stderr: string;
  /** The first event of this kind (undefined when none). */
  first(kind: string): PyEvent | undefined;
  /** Every event of this kind. */
  all(kind: string): PyEvent[];
}

/** The script's path in the repository. */
export const PY_CLIENT_SCRIPT = new URL("../fixtures/py/client.py", import.meta.url).pathname;

/** Runs the Python client to completion. Lines that are not JSON are kept in `stderr`. */
export async function runPythonClient(opts: PyClientOptions): Promise<PyClientRun> {
  const args = [PY_CLIENT_SCRIPT, "--url", opts.url, "--mode", opts.mode ?? "auto"];
  if (opts.token !== undefined) args.push("--token", opts.token);
  for (const call of opts.calls ?? []) {
    args.push("--call", call.name, "--args", JSON.stringify(call.arguments ?? {}));
  }
  if (opts.elicit) args.push("--elicit", JSON.stringify(opts.elicit));
  if (opts.sample !== undefined) args.push("--sample", opts.sample);
  if (opts.logLevel !== undefined) args.push("--log-level", opts.logLevel);
  const out = await new Deno.Command(opts.python, {
    args,
    env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
  }).output();
  const dec = new TextDecoder();
  const events: PyEvent[] = [];
  let stray = "";
  for (const line of dec.decode(out.stdout).split("\n")) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line) as PyEvent);
    } catch {
      stray += line + "\n";
    }
  }
  return {
    code: out.code,
    events,
    stderr: stray + dec.decode(out.stderr),
    first: (kind) => events.find((e) => e.event === kind),
    all: (kind) => events.filter((e) => e.event === kind),
  };
}

/** A readable dump of a run for assertion messages. */
export function describeRun(run: PyClientRun): string {
  const err = run.stderr.length > 3000 ? "…" + run.stderr.slice(-3000) : run.stderr;
  return `exit ${run.code}\nevents:\n${
    run.events.map((e) => JSON.stringify(e).slice(0, 500)).join("\n")
  }\nstderr:\n${err}`;
}
