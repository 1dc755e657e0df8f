import assert from "node:assert/strict";
import { DeadlineQueue, type TimerHost } from "./deadlines.ts";

/** Manual timers: `advance` moves time and runs what is due, in order. */
function manualHost() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const host: TimerHost & { advance(ms: number): void; pending(): number; now(): number } = {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    pending: () => timers.size,
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = [...timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
        if (!next || next[1].at > end) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
    },
  };
  return host;
}

Deno.test("deadlines fire in order, not before their duration, once", () => {
  const host = manualHost();
  const q = new DeadlineQueue(host, 0);
  const fired: string[] = [];
  q.add(100, () => fired.push("a"));
  host.advance(10);
  q.add(100, () => fired.push("b"));
  q.add(50, () => fired.push("short"));
  assert.equal(host.pending(), 2, "one timer per duration");
  host.advance(49);
  assert.deepEqual([...fired], []);
  host.advance(1);
  assert.deepEqual([...fired], ["short"]);
  host.advance(39);
  assert.deepEqual([...fired], ["short"]);
  host.advance(1);
  assert.deepEqual([...fired], ["short", "a"]);
  host.advance(10);
  assert.deepEqual([...fired], ["short", "a", "b"]);
  host.advance(1000);
  assert.deepEqual([...fired], ["short", "a", "b"]);
  assert.equal(host.pending(), 0);
});

Deno.test("cancelled deadlines never fire; requests one after another share one timer", () => {
  const host = manualHost();
  const q = new DeadlineQueue(host, 0);
  const fired: number[] = [];
  const ds = Array.from({ length: 5 }, (_, i) => {
    host.advance(1);
    return q.add(100, () => fired.push(i));
  });
  ds[0]!.cancel();
  ds[2]!.cancel();
  ds[2]!.cancel(); // twice is fine
  assert.equal(q.size, 4, "the cancelled head is dropped at once; one behind a live head stays");
  host.advance(200);
  assert.deepEqual([...fired], [1, 3, 4]);
  assert.equal(host.pending(), 0);
  let started = 0;
  const setT = host.setTimeout;
  host.setTimeout = (fn, ms) => (started++, setT(fn, ms));
  for (let i = 0; i < 1000; i++) {
    q.add(100, () => fired.push(9)).cancel();
    host.advance(1);
  }
  assert.equal(q.size, 0);
  assert.ok(started <= 11, `${started} timers for 1000 sequential requests of 100 ms`);
  host.advance(200);
  assert.deepEqual([...fired], [1, 3, 4], "none of them fired");
  assert.equal(host.pending(), 0, "the last timer fired for nothing and was not re-armed");
});

Deno.test("many overlapping requests share one timer and the queue stays small", () => {
  const host = manualHost();
  const q = new DeadlineQueue(host, 1);
  let timersStarted = 0;
  const setT = host.setTimeout;
  host.setTimeout = (fn, ms) => (timersStarted++, setT(fn, ms));
  // 16 requests in flight, each done after 1 ms, for 100,000 requests.
  const inflight: { cancel(): void }[] = [];
  for (let i = 0; i < 100_000; i++) {
    inflight.push(q.add(30_000, () => assert.fail("a finished request timed out")));
    if (inflight.length === 16) inflight.shift()!.cancel();
    if (i % 16 === 0) host.advance(1);
  }
  assert.equal(timersStarted, 1);
  assert.ok(q.size <= 16 + 1, `queue size ${q.size}`);
  for (const d of inflight) d.cancel();
  assert.equal(q.size, 0);
});

Deno.test("a deadline behind cancelled ones fires within the slack, not before", () => {
  const host = manualHost();
  const q = new DeadlineQueue(host, 5);
  const fired: number[] = [];
  const a = q.add(100, () => fired.push(1));
  host.advance(50);
  q.add(100, () => fired.push(2)); // due at 150
  a.cancel(); // the timer armed for 100 stays; it re-arms for 150 + slack
  host.advance(60); // t=110
  assert.deepEqual([...fired], []);
  host.advance(44); // t=154
  assert.deepEqual([...fired], []);
  host.advance(1); // t=155
  assert.deepEqual([...fired], [2]);
  assert.equal(host.pending(), 0);
});

Deno.test("the real timers: a deadline fires (its timer does not hold the process)", async () => {
  const q = new DeadlineQueue();
  // Unref'd: something else (here a timer, in the proxy a socket) must keep the loop alive.
  const keepAlive = setTimeout(() => {}, 60_000);
  const fired = await new Promise<number>((resolve) => {
    const t0 = performance.now();
    q.add(20, () => resolve(performance.now() - t0));
  });
  clearTimeout(keepAlive);
  assert.ok(fired >= 19, `fired after ${fired} ms`);
});
