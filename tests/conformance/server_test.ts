/**
 * Proof with parts nobody here wrote (issue #16, ADR 0010 step 7): the official conformance
 * suite's server scenarios, at 2026-07-28 and at 2025-11-25, run
 *
 * - directly against our fixture (tests/fixtures/conformance_backend.ts), which proves the fixture
 *   is what the scenarios ask for, and
 * - through vmcp aggregating that fixture with the `priority` strategy (names unchanged).
 *
 * tests/conformance/expected_failures.json lists, per target and revision, the scenarios known to
 * fail, each with a reason. A test fails on a failure not listed there (a regression) and on a
 * listed scenario that now passes or no longer runs (so the list stays honest).
 */
import assert from "node:assert/strict";
import {
  compareWithBaseline,
  type ConformanceRun,
  ensureConformanceCli,
  type ExpectedFailures,
  runConformance,
  type SpecVersion,
  tally,
} from "../harness/conformance.ts";
import { serveConformanceBackend } from "../fixtures/conformance_backend.ts";
import { config, proxy } from "../proxy/helpers.ts";

/** Where the scenarios are pointed at. */
type Target = "direct" | "vmcp-modern-backend" | "vmcp-legacy-backend";
type Baseline = Record<Target, Record<SpecVersion, ExpectedFailures>>;

const baseline = JSON.parse(
  await Deno.readTextFile(new URL("./expected_failures.json", import.meta.url)),
) as Baseline;
const cli = await ensureConformanceCli();
const ignoreReason = cli.ok ? "" : ` (ignored: ${cli.reason.slice(0, 200)})`;

/** Fewer scenarios than this means the CLI did not really run. */
const MIN_SCENARIOS: Record<SpecVersion, number> = { "2026-07-28": 35, "2025-11-25": 30 };

function judge(
  run: ConformanceRun,
  expected: ExpectedFailures,
  version: SpecVersion,
  where: string,
) {
  assert.ok(
    run.scenarios.size >= MIN_SCENARIOS[version],
    `${where} ${version}: only ${run.scenarios.size} scenarios ran; CLI output:\n${run.outputTail}`,
  );
  const v = compareWithBaseline(run.scenarios, expected);
  const problems = [
    ...v.regressions.map((r) => `REGRESSION ${r}`),
    ...v.stale.map((s) => `NOW PASSES (remove it from expected_failures.json ${where}): ${s}`),
    ...v.missing.map((s) => `NOT RUN (remove it from expected_failures.json ${where}): ${s}`),
  ];
  assert.deepEqual(problems, [], `${where} ${version}: ${tally(run.scenarios)}`);
}

/** Backend era vmcp is told to use for each vmcp target (`auto` finds the fixture modern). */
const BACKEND_PROTOCOL = {
  "vmcp-modern-backend": "modern",
  "vmcp-legacy-backend": "legacy",
} as const;

for (const version of ["2026-07-28", "2025-11-25"] as const) {
  Deno.test({
    name: `conformance ${version}: the fixture passes the official server scenarios directly` +
      ignoreReason,
    ignore: !cli.ok,
    async fn() {
      const backend = await serveConformanceBackend();
      try {
        const run = await runConformance(backend.url, version);
        judge(run, baseline.direct[version], version, "direct");
      } finally {
        await backend.stop();
      }
    },
  });

  for (const target of ["vmcp-modern-backend", "vmcp-legacy-backend"] as const) {
    const era = BACKEND_PROTOCOL[target];
    Deno.test({
      name: `conformance ${version}: vmcp in front of the fixture (${era} backend) passes the ` +
        `same scenarios` + ignoreReason,
      ignore: !cli.ok,
      async fn() {
        const backend = await serveConformanceBackend();
        const p = await proxy(config({
          aggregation: { conflictResolution: "priority" },
          operational: { timeouts: { default: "60s" } },
          backends: [{ name: "conformance", url: backend.url, protocol: era }],
        }));
        try {
          const run = await runConformance(p.url, version);
          judge(run, baseline[target][version], version, target);
        } finally {
          await p.stop();
          await backend.stop();
        }
      },
    });
  }
}
