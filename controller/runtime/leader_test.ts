import assert from "node:assert/strict";
import { formatMicroTime, LeaderElector, parseMicroTime } from "./leader.ts";
import type { KubeApi } from "./kube.ts";

const noKube = {} as Pick<KubeApi, "get" | "create" | "replace">;
const base = { namespace: "ns", name: "vmcp-controller" };

Deno.test("formatMicroTime() writes RFC 3339 with exactly six fractional digits", () => {
  assert.equal(formatMicroTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67)), "2026-01-02T03:04:05.067000Z");
  assert.equal(formatMicroTime(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), "2026-01-02T03:04:05.000000Z");
});

Deno.test("parseMicroTime() accepts strings and Dates and rejects garbage", () => {
  const ms = Date.UTC(2026, 0, 2, 3, 4, 5, 67);
  assert.equal(parseMicroTime("2026-01-02T03:04:05.067000Z"), ms);
  assert.equal(parseMicroTime(new Date(ms)), ms);
  assert.equal(parseMicroTime(undefined), undefined);
  assert.equal(parseMicroTime(""), undefined);
  assert.equal(parseMicroTime("yesterday"), undefined);
  assert.equal(parseMicroTime(new Date(NaN)), undefined);
});

Deno.test("LeaderElector uses client-go's defaults of 15s / 10s / 2s and a hostname_uuid identity", () => {
  const e = new LeaderElector(noKube, base);
  assert.equal(e.leaseDurationMs, 15_000);
  assert.equal(e.renewDeadlineMs, 10_000);
  assert.equal(e.retryPeriodMs, 2_000);
  assert.match(e.identity, /^.+_[0-9a-f-]{36}$/);
  assert.notEqual(new LeaderElector(noKube, base).identity, e.identity);
  assert.equal(e.isLeader(), false);
  assert.equal(e.leaderIdentity(), undefined);
});

Deno.test("LeaderElector rejects timings that break lease > renew deadline > 1.2 × retry", () => {
  assert.throws(
    () => new LeaderElector(noKube, { ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
    /leaseDurationMs "10000" must be greater than renewDeadlineMs "10000"/,
  );
  assert.throws(
    () => new LeaderElector(noKube, { ...base, renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }),
    /renewDeadlineMs "2400" must be greater than 1.2 × retryPeriodMs "2000"/,
  );
  assert.throws(
    () => new LeaderElector(noKube, { ...base, retryPeriodMs: 0 }),
    /retryPeriodMs "0"/,
  );
  assert.throws(() => new LeaderElector(noKube, { ...base, name: "" }), /name ""/);
  // The short timings the integration tests use are valid.
  new LeaderElector(noKube, {
    ...base,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 500,
  });
});
