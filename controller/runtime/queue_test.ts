import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { TerminalError, WorkQueue } from "./queue.ts";

/** Lets promise continuations (timers resolved by ManualClock, handlers) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("WorkQueue.add() stores a waiting key once however often it is added", async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  q.add("a");
  q.add("b");
  q.add("a");
  q.add("a");
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), "a");
  assert.equal(await q.get(), "b");
  assert.equal(q.len(), 0);
});

Deno.test("WorkQueue re-queues a key added while it is processed only after done()", async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  q.add("a");
  const key = await q.get();
  assert.equal(key, "a");
  q.add("a");
  q.add("a");
  assert.equal(q.len(), 0, "not handed out again while processing");
  q.done("a");
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), "a");
  q.done("a");
  assert.equal(q.len(), 0);
});

Deno.test("WorkQueue.addAfter() delays the add and the earliest delay per key wins", async () => {
  const clock = new ManualClock();
  const q = new WorkQueue({ clock });
  q.addAfter("a", 1000);
  q.addAfter("a", 300);
  q.addAfter("a", 5000);
  clock.advance(299);
  await flush();
  assert.equal(q.len(), 0);
  clock.advance(1);
  await flush();
  assert.equal(q.len(), 1);
  clock.advance(10_000);
  await flush();
  assert.equal(q.len(), 1, "the superseded delays add nothing more");
});

Deno.test("WorkQueue.addRateLimited() backs off exponentially per key from 5ms to 1000s until forget()", async () => {
  const clock = new ManualClock();
  const q = new WorkQueue({ clock });
  const delays: number[] = [];
  for (let i = 0; i < 30; i++) delays.push(q.when("a"));
  assert.deepEqual(delays.slice(0, 4), [5, 10, 20, 40]);
  assert.equal(delays.at(-1), 1_000_000);
  assert.equal(Math.max(...delays), 1_000_000);
  assert.equal(q.when("b"), 5, "backoff is per key");
  q.forget("a");
  assert.equal(q.numRequeues("a"), 0);

  q.addRateLimited("a");
  q.addRateLimited("a"); // second failure: due after 10ms, but the 5ms add is earlier
  clock.advance(4);
  await flush();
  assert.equal(q.len(), 0);
  clock.advance(1);
  await flush();
  assert.equal(q.len(), 1);
  assert.equal(q.numRequeues("a"), 2);
});

Deno.test("WorkQueue.run() never hands one key to two workers at once", async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  const ac = new AbortController();
  let active = 0;
  let maxActive = 0;
  let calls = 0;
  const gates: (() => void)[] = [];
  const running = q.run(4, async (key) => {
    assert.equal(key, "a");
    calls++;
    active++;
    maxActive = Math.max(maxActive, active);
    const d = deferred();
    gates.push(d.resolve);
    await d.promise;
    active--;
  }, ac.signal);
  q.add("a");
  await flush();
  q.add("a");
  q.add("a");
  await flush();
  assert.equal(calls, 1, "the re-add waits for the running handler");
  gates.shift()!();
  await flush();
  assert.equal(calls, 2, "the re-add runs once after the first finished");
  gates.shift()!();
  await flush();
  assert.equal(calls, 2);
  assert.equal(maxActive, 1);
  ac.abort();
  await running;
});

Deno.test("WorkQueue.run() processes different keys in parallel across workers", async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  const ac = new AbortController();
  const gate = deferred();
  const started: string[] = [];
  const running = q.run(2, async (key) => {
    started.push(key);
    await gate.promise;
  }, ac.signal);
  q.add("a");
  q.add("b");
  q.add("c");
  await flush();
  assert.deepEqual(started, ["a", "b"]);
  gate.resolve();
  await flush();
  assert.deepEqual(started, ["a", "b", "c"]);
  ac.abort();
  await running;
});

Deno.test("WorkQueue.run() retries a failing key with backoff and forgets it after success", async () => {
  const clock = new ManualClock();
  const outcomes: string[] = [];
  let retries = 0;
  const q = new WorkQueue({
    clock,
    metrics: { processed: (_ms, outcome) => outcomes.push(outcome), retry: () => retries++ },
  });
  const ac = new AbortController();
  let calls = 0;
  const running = q.run(1, () => {
    calls++;
    if (calls <= 2) throw new Error("transient");
  }, ac.signal);
  q.add("a");
  await flush();
  assert.equal(calls, 1);
  assert.equal(q.numRequeues("a"), 1);
  clock.advance(5);
  await flush();
  assert.equal(calls, 2);
  clock.advance(9);
  await flush();
  assert.equal(calls, 2, "second retry waits 10ms");
  clock.advance(1);
  await flush();
  assert.equal(calls, 3);
  assert.equal(q.numRequeues("a"), 0, "success forgets the backoff");
  assert.deepEqual(outcomes, ["error", "error", "success"]);
  assert.equal(retries, 2);
  ac.abort();
  await running;
});

Deno.test("WorkQueue.run() does not retry a TerminalError and honours requeueAfterMs", async () => {
  const clock = new ManualClock();
  const q = new WorkQueue({ clock });
  const ac = new AbortController();
  const calls: string[] = [];
  const running = q.run(1, (key) => {
    calls.push(key);
    if (key === "bad") throw new TerminalError("spec is invalid");
    if (calls.filter((k) => k === "wait").length === 1) return { requeueAfterMs: 60_000 };
  }, ac.signal);
  q.add("bad");
  q.add("wait");
  await flush();
  clock.advance(1_000_000);
  await flush();
  assert.deepEqual(calls, ["bad", "wait", "wait"]);
  assert.equal(q.numRequeues("bad"), 0);
  ac.abort();
  await running;
});

Deno.test("WorkQueue.run() resolves after abort once running handlers finish", async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  const ac = new AbortController();
  let finished = false;
  const running = q.run(2, async (_key, signal) => {
    await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    finished = true;
  }, ac.signal);
  q.add("a");
  q.addAfter("b", 1000);
  await flush();
  ac.abort();
  await running;
  assert.equal(finished, true);
  q.add("c");
  assert.equal(q.len(), 0, "a shut-down queue takes no keys");
});

Deno.test("WorkQueue reports depth and adds to its metrics hooks", async () => {
  const depths: number[] = [];
  let adds = 0;
  const q = new WorkQueue({
    clock: new ManualClock(),
    metrics: { depth: (d) => depths.push(d), add: () => adds++ },
  });
  q.add("a");
  q.add("b");
  q.add("a");
  await q.get();
  assert.equal(adds, 3);
  assert.deepEqual(depths, [1, 2, 1]);
});

Deno.test("WorkQueue rejects invalid options with a RangeError naming the value", async () => {
  assert.throws(() => new WorkQueue({ baseDelayMs: 0 }), /baseDelayMs "0"/);
  assert.throws(() => new WorkQueue({ baseDelayMs: 10, maxDelayMs: 5 }), /maxDelayMs "5"/);
  const q = new WorkQueue();
  await assert.rejects(() => q.run(0, () => {}, new AbortController().signal), /workers "0"/);
});
