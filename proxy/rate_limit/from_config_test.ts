import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { ManualClock } from "../../core/clock.ts";
import { ANONYMOUS_IDENTITY } from "../../core/auth/identity.ts";
import { createLogger, silentLogger } from "../../core/log.ts";
import { type VmcpConfigInput, VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import { RuntimeRateLimits } from "./from_config.ts";
import { RateLimitedError } from "./errors.ts";

const cfg = (rateLimiting?: VmcpConfigInput["rateLimiting"]) =>
  VmcpConfigSchema.parse({ name: "v", backends: [], ...(rateLimiting ? { rateLimiting } : {}) });

function allowed(limits: RuntimeRateLimits, tool = "t"): boolean {
  try {
    limits.limiter!.check(ANONYMOUS_IDENTITY, tool);
    return true;
  } catch (err) {
    assert.ok(err instanceof RateLimitedError);
    return false;
  }
}

Deno.test("RuntimeRateLimits is off without rateLimiting, and a reload turns it on and off", async () => {
  const limits = new RuntimeRateLimits(cfg(), { clock: new ManualClock(), log: silentLogger });
  assert.equal(limits.limiter, undefined);
  limits.apply(cfg({ global: { maxTokens: 1, refillPeriod: "1h" } }));
  assert.ok(limits.limiter);
  limits.apply(cfg());
  assert.equal(limits.limiter, undefined);
  await limits.close();
});

Deno.test("RuntimeRateLimits keeps the budgets across a reload: unchanged limits keep the limiter, changed ones keep the buckets", async () => {
  const rl = { global: { maxTokens: 2, refillPeriod: "1h" } };
  const limits = new RuntimeRateLimits(cfg(rl), {
    clock: new ManualClock(),
    log: silentLogger,
    registry: new Registry(),
  });
  const first = limits.limiter;
  assert.equal(allowed(limits), true);
  limits.apply(cfg(structuredClone(rl)));
  assert.equal(limits.limiter, first, "same settings: same limiter");
  assert.equal(allowed(limits), true);
  assert.equal(allowed(limits), false, "2 used");
  // A new tool limit: a new limiter, but the global bucket is not refilled by the reload.
  limits.apply(
    cfg({ ...rl, tools: [{ name: "x", global: { maxTokens: 5, refillPeriod: "1m" } }] }),
  );
  assert.notEqual(limits.limiter, first);
  assert.equal(allowed(limits, "x"), false, "global is still used up");
  // A larger bucket: the kept state refills up to the new capacity over time, not at once.
  limits.apply(cfg({ global: { maxTokens: 3, refillPeriod: "1h" } }));
  assert.equal(allowed(limits), false);
  await limits.close();
});

Deno.test("RuntimeRateLimits warns once about a rateLimiting.tools name no tool has", async () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", sink: (l) => lines.push(l) });
  const limits = new RuntimeRateLimits(
    cfg({ tools: [{ name: "web_ecoh", global: { maxTokens: 1, refillPeriod: "1m" } }] }),
    { clock: new ManualClock(), log },
  );
  const known = (n: string) => n === "web_echo";
  limits.warnUnmatchedTools(known);
  limits.warnUnmatchedTools(known);
  const warned = lines.filter((l) => l.includes("limits nothing"));
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /"tool":"web_ecoh"/);
  limits.warnUnmatchedTools((n) => n === "web_ecoh");
  assert.equal(lines.filter((l) => l.includes("limits nothing")).length, 1);
  await limits.close();
});
