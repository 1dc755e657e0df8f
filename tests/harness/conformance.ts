/**
 * Runs the official MCP conformance suite's server scenarios (npm
 * `@modelcontextprotocol/conformance`, pinned) against a URL and reads the per-scenario results.
 *
 * The CLI runs under Deno from its global npm cache (outside the repository) with
 * `--no-config --no-lock` in a scratch directory, so it neither reads nor changes the repo's
 * deno.json, deno.lock or node_modules. `ensureConformanceCli()` fills the cache once (the only
 * step that needs the registry); each run then uses `--cached-only`.
 * @module
 */

/** The exact release the baseline was measured with. */
export const CONFORMANCE_PACKAGE = "npm:@modelcontextprotocol/conformance@0.2.0-alpha.12";

export type SpecVersion = "2026-07-28" | "2025-11-25";

/** One scenario's outcome: it fails when any of its checks has status FAILURE. */
export interface ScenarioResult {
  scenario: string;
  passed: number;
  failed: number;
  warnings: number;
  /** `check-id: message` of each failed check. */
  failures: string[];
}

export interface ConformanceRun {
  /** The CLI's exit code (1 when any scenario failed). */
  code: number;
  scenarios: Map<string, ScenarioResult>;
  /** The tail of the CLI's output, for assertion messages. */
  outputTail: string;
}

export type CliAvailability = { ok: true } | { ok: false; reason: string };

function cliArgs(extra: string[], cachedOnly: boolean): string[] {
  return [
    "run",
    "-A",
    "--no-config",
    "--no-lock",
    "--no-prompt",
    ...(cachedOnly ? ["--cached-only"] : []),
    CONFORMANCE_PACKAGE,
    ...extra,
  ];
}

let available: Promise<CliAvailability> | undefined;

/**
 * Makes sure the pinned CLI is in Deno's npm cache (downloading it the first time) and runs.
 * Resolves to a reason instead of throwing, so tests can be ignored with it.
 */
export function ensureConformanceCli(): Promise<CliAvailability> {
  available ??= (async () => {
    const cwd = await Deno.makeTempDir({ prefix: "vmcp-conformance-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: cliArgs(["list", "--server"], false),
        cwd,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(5 * 60_000),
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      if (out.success && text.includes("server-stateless")) return { ok: true as const };
      const err = new TextDecoder().decode(out.stderr);
      return {
        ok: false as const,
        reason: `${CONFORMANCE_PACKAGE} is unavailable (exit ${out.code}): ${
          (err || text).slice(-600)
        }`,
      };
    } catch (err) {
      return { ok: false as const, reason: `${CONFORMANCE_PACKAGE} could not start: ${err}` };
    } finally {
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  })();
  return available;
}

/** `server-<scenario>-<ISO timestamp>` → scenario. */
export function scenarioOfResultDir(dir: string): string | undefined {
  const m = dir.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
  return m?.[1];
}

/** Summarizes one scenario's `checks.json`. */
export function summarizeChecks(scenario: string, checks: unknown): ScenarioResult {
  const r: ScenarioResult = { scenario, passed: 0, failed: 0, warnings: 0, failures: [] };
  for (const c of Array.isArray(checks) ? checks : []) {
    const check = c as { id?: string; status?: string; errorMessage?: string };
    if (check.status === "SUCCESS") r.passed++;
    else if (check.status === "FAILURE") {
      r.failed++;
      r.failures.push(`${check.id}: ${(check.errorMessage ?? "").slice(0, 300)}`);
    } else if (check.status === "WARNING") r.warnings++;
  }
  return r;
}

/** Runs every server scenario of `specVersion` (suite "all") against `url`. */
export async function runConformance(
  url: string,
  specVersion: SpecVersion,
  opts: { signal?: AbortSignal; timeoutMsPerScenario?: number } = {},
): Promise<ConformanceRun> {
  const cwd = await Deno.makeTempDir({ prefix: "vmcp-conformance-run-" });
  try {
    const outDir = `${cwd}/results`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: cliArgs([
        "server",
        "--url",
        url,
        "--spec-version",
        specVersion,
        "--suite",
        "all",
        "--timeout",
        String(opts.timeoutMsPerScenario ?? 30_000),
        "-o",
        outDir,
      ], true),
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: opts.signal ?? AbortSignal.timeout(10 * 60_000),
    }).output();
    const dec = new TextDecoder();
    const text = dec.decode(out.stdout) + dec.decode(out.stderr);
    const scenarios = new Map<string, ScenarioResult>();
    try {
      for await (const e of Deno.readDir(outDir)) {
        const scenario = scenarioOfResultDir(e.name);
        if (!e.isDirectory || !scenario) continue;
        let checks: unknown = [];
        try {
          checks = JSON.parse(await Deno.readTextFile(`${outDir}/${e.name}/checks.json`));
        } catch (err) {
          checks = [{ id: "checks.json", status: "FAILURE", errorMessage: String(err) }];
        }
        scenarios.set(scenario, summarizeChecks(scenario, checks));
      }
    } catch {
      // no results directory: the CLI failed before any scenario; the output says why
    }
    return { code: out.code, scenarios, outputTail: text.slice(-4000) };
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

/** Scenario → reason, for one target and revision. */
export type ExpectedFailures = Record<string, string>;

export interface BaselineVerdict {
  /** Failed but not in the baseline, with their failed checks. */
  regressions: string[];
  /** In the baseline but passed (remove them from the baseline). */
  stale: string[];
  /** In the baseline but not run at all (renamed or dropped scenarios). */
  missing: string[];
}

/** Compares a run with its expected failures; an empty verdict is a pass. */
export function compareWithBaseline(
  scenarios: Map<string, ScenarioResult>,
  expected: ExpectedFailures,
): BaselineVerdict {
  const v: BaselineVerdict = { regressions: [], stale: [], missing: [] };
  for (const r of [...scenarios.values()].sort((a, b) => a.scenario.localeCompare(b.scenario))) {
    const listed = Object.hasOwn(expected, r.scenario);
    if (r.failed > 0 && !listed) {
      v.regressions.push(`${r.scenario}: ${r.failures.join(" | ")}`);
    } else if (r.failed === 0 && listed) v.stale.push(r.scenario);
  }
  for (const s of Object.keys(expected).sort()) if (!scenarios.has(s)) v.missing.push(s);
  return v;
}

/** Counts for a report line: scenarios passed and failed, checks passed and failed. */
export function tally(scenarios: Map<string, ScenarioResult>): string {
  let sp = 0, sf = 0, cp = 0, cf = 0;
  for (const r of scenarios.values()) {
    if (r.failed > 0) sf++;
    else sp++;
    cp += r.passed;
    cf += r.failed;
  }
  return `${sp}/${sp + sf} scenarios passed (${cp} checks passed, ${cf} failed)`;
}
