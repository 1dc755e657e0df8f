import assert from "node:assert/strict";
import { AUTH_FAILED_BURST, AUTH_FAILED_EVERY_MS, AuthFailureBudget } from "./auth_failures.ts";

Deno.test("AuthFailureBudget: a burst per host, then one a second carrying the count in between", () => {
  let now = 0;
  const budget = new AuthFailureBudget(() => now);
  for (let i = 0; i < AUTH_FAILED_BURST; i++) assert.equal(budget.take("10.0.0.1"), 0);
  for (let i = 0; i < 50; i++) assert.equal(budget.take("10.0.0.1"), -1);
  assert.equal(budget.take("10.0.0.2"), 0, "another host has its own budget");
  now += AUTH_FAILED_EVERY_MS;
  assert.equal(budget.take("10.0.0.1"), 50, "the next event counts the 50 not written");
  assert.equal(budget.take("10.0.0.1"), -1);
});
