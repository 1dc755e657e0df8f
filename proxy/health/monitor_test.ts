import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { silentLogger } from "../../core/log.ts";
import { VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import type { Backend } from "../backends/backend.ts";
import { HealthMonitor } from "./monitor.ts";

/** A backend whose probes fail while `down` is true; counts probes and their clock times. */
function fakeBackend(clock: ManualClock) {
  const fake = {
    name: "b",
    config: { name: "b", transport: "streamable-http", url: "http://127.0.0.1:1/mcp" },
    caps: {} as unknown,
    timeoutMs: 1000,
    down: true,
    probes: [] as number[],
    probe() {
      fake.probes.push(clock.now());
      return fake.down ? Promise.reject(new Error("connect failed")) : Promise.resolve();
    },
    discover() {
      return fake.probe();
    },
  };
  return fake;
}

function monitorFor(interval: string, clock: ManualClock) {
  const backend = fakeBackend(clock);
  const config = VmcpConfigSchema.parse({
    name: "t",
    groupRef: { name: "g" },
    operational: { failureHandling: { healthCheckInterval: interval, unhealthyThreshold: 1 } },
    backends: [backend.config],
  });
  const changes: boolean[] = [];
  const monitor = new HealthMonitor(backend as unknown as Backend, config, {
    clock,
    log: silentLogger,
    onChange: (routable) => changes.push(routable),
  });
  return { backend, monitor, changes };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

/** Advances the clock in 100 ms steps, letting the loop run after each. */
async function advance(clock: ManualClock, ms: number) {
  for (let t = 0; t < ms; t += 100) {
    clock.advance(100);
    await flush();
  }
}

Deno.test("while a backend is down checks back off from 0.5 s (doubling) instead of waiting the interval, and return to the interval once it is back", async () => {
  const clock = new ManualClock(0);
  const { backend, monitor, changes } = monitorFor("30s", clock);
  monitor.start();
  try {
    monitor.recordFailure("connect failed"); // a call failed: unhealthy at once (threshold 1)
    assert.deepEqual(changes, [false]);
    await flush();
    await advance(clock, 4000);
    // 0.5, then +1, then +2 s: not a single one at 30 s.
    assert.deepEqual(backend.probes, [500, 1500, 3500]);
    backend.down = false;
    await advance(clock, 4000); // the next check (+4 s) succeeds
    assert.deepEqual(backend.probes, [500, 1500, 3500, 7500]);
    assert.deepEqual(changes, [false, true]);
    await advance(clock, 20_000);
    assert.equal(backend.probes.length, 4, "healthy: the next check waits the full interval");
  } finally {
    monitor.stop();
  }
});

Deno.test("a call refused while the backend is down asks for a check now, at most one a second", async () => {
  const clock = new ManualClock(0);
  const { backend, monitor } = monitorFor("30s", clock);
  monitor.start();
  try {
    monitor.recordFailure("connect failed");
    await flush();
    assert.match(monitor.admit() ?? "", /connect failed/);
    await flush();
    assert.deepEqual(backend.probes, [0]);
    monitor.admit();
    await flush();
    assert.deepEqual(backend.probes, [0], "no second demand check within a second");
    backend.down = false;
    clock.advance(1000);
    assert.ok(monitor.admit(), "still refused until the check says otherwise");
    await flush();
    assert.equal(monitor.admit(), undefined, "the demand check found it back");
  } finally {
    monitor.stop();
  }
});

Deno.test("with checks off an unhealthy backend lets one call through as the trial, at a backoff", () => {
  const clock = new ManualClock(0);
  const { monitor } = monitorFor("0s", clock);
  monitor.start();
  try {
    monitor.recordFailure("connect failed");
    assert.ok(monitor.admit(), "refused right after failing");
    clock.advance(500);
    assert.equal(monitor.admit(), undefined, "this call is the trial");
    assert.ok(monitor.admit(), "one trial at a time");
    monitor.recordFailure("connect failed"); // the trial failed
    clock.advance(500);
    assert.ok(monitor.admit(), "the next trial waits longer (1 s)");
    clock.advance(500);
    assert.equal(monitor.admit(), undefined);
    monitor.recordCallSuccess();
    assert.equal(monitor.admit(), undefined, "back");
  } finally {
    monitor.stop();
  }
});
