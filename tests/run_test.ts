import assert from "node:assert/strict";
import { formatSummary, parseDenoSummary } from "./run.ts";

Deno.test("the runner reads Deno's closing summary in its passing, failing and ignored forms", () => {
  assert.deepEqual(parseDenoSummary("ok | 6 passed | 0 failed (13s)"), {
    passed: 6,
    failed: 0,
    ignored: 0,
  });
  assert.deepEqual(
    parseDenoSummary(
      "\x1b[0m\x1b[31mFAILED\x1b[0m | 5 passed (3 steps) | 2 failed (1 step) | 1 ignored (2s)",
    ),
    {
      passed: 5,
      failed: 2,
      ignored: 1,
    },
  );
  assert.equal(parseDenoSummary("ok | something else"), undefined);
});

Deno.test("the runner's closing line is the plain form CI reads", () => {
  assert.equal(formatSummary({ passed: 7, failed: 1, ignored: 0 }), "7 passed, 1 failed");
  assert.equal(
    formatSummary({ passed: 7, failed: 0, ignored: 2 }),
    "7 passed, 0 failed, 2 skipped",
  );
});
