import assert from "node:assert/strict";
import {
  compareWithBaseline,
  scenarioOfResultDir,
  type ScenarioResult,
  summarizeChecks,
  tally,
} from "./conformance.ts";

Deno.test("scenarioOfResultDir() takes the scenario out of the CLI's result folder name", () => {
  assert.equal(
    scenarioOfResultDir("server-input-required-result-multi-round-2026-12-02T10-57-09-331Z"),
    "input-required-result-multi-round",
  );
  assert.equal(scenarioOfResultDir("server-caching-2026-12-02T10-57-14-984Z"), "caching");
  assert.equal(scenarioOfResultDir("checks.json"), undefined);
});

Deno.test("summarizeChecks() counts statuses and keeps the failed checks' messages", () => {
  const r = summarizeChecks("s", [
    { id: "a", status: "SUCCESS" },
    { id: "b", status: "FAILURE", errorMessage: "expected 400" },
    { id: "c", status: "WARNING" },
    { id: "d", status: "INFO" },
  ]);
  assert.deepEqual(r, {
    scenario: "s",
    passed: 1,
    failed: 1,
    warnings: 1,
    failures: ["b: expected 400"],
  });
  assert.equal(summarizeChecks("x", "not an array").failed, 0);
});

const result = (scenario: string, failed: number): ScenarioResult => ({
  scenario,
  passed: 2,
  failed,
  warnings: 0,
  failures: failed ? [`${scenario}-check: broke`] : [],
});

Deno.test("compareWithBaseline() reports unlisted failures, listed passes and listed scenarios that did not run", () => {
  const runs = new Map([
    ["ok", result("ok", 0)],
    ["known", result("known", 1)],
    ["new-break", result("new-break", 2)],
    ["fixed", result("fixed", 0)],
  ]);
  const v = compareWithBaseline(runs, { known: "why", fixed: "was broken", gone: "renamed" });
  assert.deepEqual(v, {
    regressions: ["new-break: new-break-check: broke"],
    stale: ["fixed"],
    missing: ["gone"],
  });
  assert.deepEqual(compareWithBaseline(runs, { known: "why", "new-break": "x", fixed: "y" }), {
    regressions: [],
    stale: ["fixed"],
    missing: [],
  });
  assert.equal(tally(runs), "2/4 scenarios passed (8 checks passed, 3 failed)");
});
