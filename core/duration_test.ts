import assert from "node:assert/strict";
import { checkDuration, describeBounds, MAX_TIMER_MS, parseDuration } from "./duration.ts";

Deno.test("checkDuration() accepts the bounds themselves and rejects values just outside, naming the range", () => {
  const b = { min: "100ms", max: "24h" };
  assert.equal(checkDuration("100ms", b), undefined);
  assert.equal(checkDuration("24h", b), undefined);
  assert.equal(checkDuration("1h30m", b), undefined);
  assert.equal(checkDuration("99ms", b), "Duration out of range; allowed: 100ms to 24h");
  assert.equal(checkDuration("24h1ms", b), "Duration out of range; allowed: 100ms to 24h");
  assert.equal(checkDuration("0s", b), "Duration out of range; allowed: 100ms to 24h");
});

Deno.test("checkDuration() accepts zero only where zero means off, and says so", () => {
  const b = { min: "1s", max: "24h", zero: "no periodic checks" };
  assert.equal(checkDuration("0s", b), undefined);
  assert.equal(checkDuration("0ms", b), undefined);
  assert.match(checkDuration("1ms", b)!, /0s \(no periodic checks\) or 1s to 24h/);
  assert.equal(describeBounds(b), "0s (no periodic checks) or 1s to 24h");
});

Deno.test("checkDuration() reports a malformed duration with the parser's message", () => {
  assert.match(
    checkDuration("5 minutes", { min: "1s", max: "1h" })!,
    /Invalid duration "5 minutes"/,
  );
});

Deno.test("the longest bound any field uses fits a timer", () => {
  assert.ok(parseDuration("24h") < MAX_TIMER_MS);
  assert.ok(parseDuration("597h") > MAX_TIMER_MS, "597h (issue #15) would overflow a timer");
});
