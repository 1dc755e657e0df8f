/**
 * `ParkRelay` between two replicas' `ParkedCalls` on one real redis-server: a retry that lands
 * on the replica not holding the call completes it there; the owner gone, Redis down, no Redis,
 * a receiver that stops waiting, duplicate retries, bounds and junk on the channel.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { type Clock, ManualClock, systemClock } from "../../core/clock.ts";
import { createLogger } from "../../core/log.ts";
import { getTestRedis, startRedis, type TestRedis } from "../../tests/harness/redis.ts";
import { until } from "../../tests/harness/until.ts";

import { RpcError } from "../backends/errors.ts";
import { type InputRequiredResult, ParkedCalls } from "./parking.ts";
import { ParkRelay, type ParkRelayOptions } from "./relay.ts";
import { type RefusalReason, RequestStateError, StateCodec } from "./state.ts";

type AnyObject = Record<string, unknown>;

const shared = await getTestRedis();
const KEY = new TextEncoder().encode("k".repeat(48));
const ALICE = { method: "tools/call", name: "ask", identityKey: "idp\u0000alice" };
const ELICIT = { method: "elicitation/create", params: { message: "Name?", requestedSchema: {} } };
const ACCEPT = { action: "accept", content: { name: "Ada" } };
const TEST = { sanitizeOps: false, sanitizeResources: false };

interface Replica {
  name: string;
  parked: ParkedCalls;
  codec: StateCodec;
  relay: ParkRelay;
  logs: AnyObject[];
}

function replica(
  name: string,
  redis: TestRedis | undefined,
  keyPrefix: string,
  opts: Partial<ParkRelayOptions> & { clock?: Clock } = {},
): Replica {
  const logs: AnyObject[] = [];
  const log = createLogger({ level: "debug", sink: (l) => void logs.push(JSON.parse(l)) });
  const codec = new StateCodec({ key: KEY, ttlMs: 600_000, clock: systemClock });
  const parked = new ParkedCalls({ codec, clock: systemClock, log, timeoutMs: 600_000 });
  const relay = new ParkRelay({
    parked,
    codec,
    log,
    waitMs: 30_000,
    ...(redis
      ? {
        redis: {
          address: `127.0.0.1:${redis.port}`,
          password: redis.password,
          keyPrefix,
          maxReconnectDelayMs: 200,
        },
      }
      : {}),
    ...opts,
  });
  return { name, parked, codec, relay, logs };
}

async function pair(
  redis: TestRedis = shared,
  b: Partial<ParkRelayOptions> = {},
  aOpts: Partial<ParkRelayOptions> = {},
) {
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const a = replica("a", redis, prefix, aOpts);
  const bb = replica("b", redis, prefix, b);
  await Promise.all([a.relay.start(30_000), bb.relay.start(30_000)]);
  assert.ok(a.relay.ready && bb.relay.ready, "both relays subscribed");
  return {
    a,
    b: bb,
    prefix,
    [Symbol.asyncDispose]: async () => void await Promise.all([a.relay.stop(), bb.relay.stop()]),
  };
}

/**
 * A backend call that asks the client once (`rounds` times in all) and then answers what it
 * got; `runs` counts how often its body started, `answers` what the client answered.
 */
function eliciting(parked: ParkedCalls, rounds = 1) {
  const peer = {};
  const answers: AnyObject[] = [];
  let runs = 0;
  let cancelled: unknown;
  const start = async () => {
    runs++;
    for (let i = 0; i < rounds; i++) answers.push(await parked.bridge(peer, ELICIT));
    return { content: [{ type: "text", text: JSON.stringify(answers) }] };
  };
  const first = () =>
    parked.race(peer, ALICE, start, { cancel: (r) => (cancelled = r) }) as Promise<AnyObject>;
  return {
    first,
    answers,
    get runs() {
      return runs;
    },
    get cancelled() {
      return cancelled;
    },
  };
}

/** Polls `f` until it holds (30 s). */
function eventually(what: string, f: () => boolean): Promise<true> {
  return until(what, () => Promise.resolve(f() || undefined));
}

function inputRequired(r: AnyObject): InputRequiredResult {
  assert.equal(r.resultType, "input_required", JSON.stringify(r));
  return r as InputRequiredResult;
}

/** The retry as the front door of `at` holds it. */
function retry(at: Replica, requestState: string, inputResponses: unknown = { v1: ACCEPT }) {
  return {
    state: at.codec.open(requestState, ALICE),
    requestState,
    binding: ALICE,
    inputResponses,
  };
}

async function refusal(p: Promise<unknown>, reason: RefusalReason) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RequestStateError, String(err));
    assert.equal(err.reason, reason);
    assert.deepEqual(err.toJsonRpc().code, -32602);
    return true;
  });
}

Deno.test({
  ...TEST,
  name: "a retry on the other replica answers the call parked on the first and gets its result",
  async fn() {
    await using r = await pair();
    const call = eliciting(r.a.parked);
    const ir = inputRequired(await call.first());
    assert.deepEqual(ir.inputRequests, { v1: ELICIT });
    const result = await r.b.relay.resume(retry(r.b, ir.requestState));
    assert.deepEqual(result, { content: [{ type: "text", text: JSON.stringify([ACCEPT]) }] });
    assert.deepEqual(call.answers, [ACCEPT]);
    assert.equal(call.runs, 1);
    assert.equal(r.a.parked.calls, 0);
    assert.deepEqual(r.b.relay.stats, { waiting: 0, serving: 0 });
    assert.deepEqual(r.a.relay.stats, { waiting: 0, serving: 0 });
  },
});

Deno.test({
  ...TEST,
  name:
    "a second round comes back through the relay with a state naming the owner, and any replica finishes it",
  async fn() {
    await using r = await pair();
    const call = eliciting(r.a.parked, 2);
    const one = inputRequired(await call.first());
    const two = inputRequired(await r.b.relay.resume(retry(r.b, one.requestState)));
    const opened = r.b.codec.open(two.requestState, ALICE);
    assert.equal(opened.i, 2);
    assert.equal(opened.kind === "park" && opened.r, r.a.parked.replicaId);
    // The first round's state is used up wherever it is sent again.
    await refusal(r.b.relay.resume(retry(r.b, one.requestState)), "replayed_round");
    assert.deepEqual(Object.keys(two.inputRequests), ["v2"]);
    const done = await r.a.relay.resume(
      retry(r.a, two.requestState, { v2: { action: "decline" } }),
    );
    assert.deepEqual(call.answers, [ACCEPT, { action: "decline" }]);
    assert.ok(JSON.stringify(done).includes("decline"));
    assert.equal(call.runs, 1);
  },
});

Deno.test({
  ...TEST,
  name:
    "duplicate retries of one round, relayed and local at once: one answers the call, the others get -32602",
  async fn() {
    await using r = await pair();
    const call = eliciting(r.a.parked);
    const ir = inputRequired(await call.first());
    const outcomes = await Promise.allSettled([
      r.b.relay.resume(retry(r.b, ir.requestState, { v1: ACCEPT })),
      r.b.relay.resume(retry(r.b, ir.requestState, { v1: { action: "decline" } })),
      r.a.relay.resume(retry(r.a, ir.requestState, { v1: { action: "cancel" } })),
    ]);
    const ok = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.filter((o) => o.status === "rejected");
    assert.equal(ok.length, 1, JSON.stringify(outcomes));
    assert.equal(refused.length, 2);
    for (const o of refused) {
      const err = (o as PromiseRejectedResult).reason;
      assert.ok(err instanceof RequestStateError, String(err));
      // The round is used up; once the call ended its park is gone.
      assert.ok(["replayed_round", "not_pending"].includes(err.reason), err.reason);
      assert.equal(err.code, -32602);
    }
    assert.equal(call.answers.length, 1, "the backend got exactly one answer");
    assert.equal(call.runs, 1, "the call ran once");
  },
});

Deno.test({
  ...TEST,
  name: "the owner gone (its relay stopped): the retry gets -32602 not pending, and nothing runs",
  async fn() {
    await using r = await pair();
    const call = eliciting(r.a.parked);
    const ir = inputRequired(await call.first());
    await r.a.relay.stop();
    await refusal(r.b.relay.resume(retry(r.b, ir.requestState)), "not_pending");
    assert.deepEqual(call.answers, []);
    assert.deepEqual(r.b.relay.stats, { waiting: 0, serving: 0 });
    const err = new RequestStateError("not_pending");
    assert.match(err.message, /no longer pending; call again without requestState/);
  },
});

Deno.test({
  ...TEST,
  name:
    "Redis down: a retry for the other replica gets -32602 not pending; local retries still work; relaying resumes when Redis is back",
  async fn() {
    const own = await startRedis();
    try {
      await using r = await pair(own);
      const call = eliciting(r.a.parked);
      const ir = inputRequired(await call.first());
      const stopped = await redisDown(own);
      await eventually("b to see Redis down", () => !r.b.relay.ready);
      await refusal(r.b.relay.resume(retry(r.b, ir.requestState)), "not_pending");
      assert.deepEqual(call.answers, [], "nothing reached the call");
      assert.ok(
        r.b.logs.some((l) => l.level === "warn" && /Redis unavailable/.test(String(l.msg))),
        JSON.stringify(r.b.logs),
      );
      await stopped.restore();
      await eventually("both relays to subscribe again", () => r.a.relay.ready && r.b.relay.ready);
      const result = await r.b.relay.resume(retry(r.b, ir.requestState));
      assert.ok(JSON.stringify(result).includes("Ada"));
      assert.equal(call.runs, 1);
      const local = eliciting(r.a.parked);
      const ir2 = inputRequired(await local.first());
      assert.ok(JSON.stringify(await r.a.relay.resume(retry(r.a, ir2.requestState))));
    } finally {
      await own.stop();
    }
  },
});

/**
 * Shuts `redis` down (connections dropped, new ones refused) until `restore()` starts it again
 * on the same port, empty (`TestRedis.restart` is stop + start; this is the stop half).
 */
async function redisDown(redis: TestRedis) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: redis.port });
  try {
    const auth = redis.password ? `AUTH ${redis.password}\r\n` : "";
    await conn.write(new TextEncoder().encode(`${auth}SHUTDOWN NOSAVE\r\n`));
    const buf = new Uint8Array(256);
    while ((await conn.read(buf).catch(() => null)) !== null) {
      // until the server closes the connection
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return { restore: () => redis.restart() };
}

Deno.test({
  ...TEST,
  name:
    "no Redis configured: a retry for another replica gets -32602 not pending, a local one works",
  async fn() {
    const a = replica("a", undefined, "");
    const b = replica("b", undefined, "");
    await Promise.all([a.relay.start(), b.relay.start()]);
    assert.equal(b.relay.channel, undefined);
    const call = eliciting(a.parked);
    const ir = inputRequired(await call.first());
    await refusal(b.relay.resume(retry(b, ir.requestState)), "not_pending");
    assert.ok(JSON.stringify(await a.relay.resume(retry(a, ir.requestState))).includes("Ada"));
    await Promise.all([a.relay.stop(), b.relay.stop()]);
  },
});

Deno.test({
  ...TEST,
  name:
    "a receiver that stops waiting (client gone, or its wait bound passed) cancels the call on the owner",
  async fn() {
    const clock = new ManualClock(Date.now());
    await using r = await pair(shared, { clock, waitMs: 5_000 });
    // The owner waits for a backend that says nothing after the client's answer.
    const stuck = stuckCall(r.a.parked);
    const ir2 = inputRequired(await stuck.first());
    const p = r.b.relay.resume(retry(r.b, ir2.requestState));
    await eventually("owner serving", () => r.a.relay.stats.serving === 1);
    clock.advance(5_000);
    await refusal(p, "not_pending");
    await eventually("the owner to cancel the call", () => stuck.cancelled !== undefined);

    const left = stuckCall(r.a.parked);
    const ir3 = inputRequired(await left.first());
    const ac = new AbortController();
    const q = r.b.relay.resume(retry(r.b, ir3.requestState), { signal: ac.signal });
    await eventually("owner serving", () => r.a.relay.stats.serving === 1);
    ac.abort(new Error("client gone"));
    await assert.rejects(q, /client gone/);
    await eventually("the owner to cancel the call", () => left.cancelled !== undefined);
    assert.deepEqual(r.b.relay.stats, { waiting: 0, serving: 0 });
  },
});

/** A call that asks once and then never finishes (until cancelled). */
function stuckCall(parked: ParkedCalls) {
  const peer = {};
  let cancelled: unknown;
  const never = new Promise<AnyObject>(() => {});
  return {
    first: () =>
      parked.race(peer, ALICE, async () => {
        await parked.bridge(peer, ELICIT);
        return await never;
      }, { cancel: (reason) => (cancelled = reason) }),
    get cancelled() {
      return cancelled;
    },
  };
}

Deno.test({
  ...TEST,
  name:
    "bounds: past maxWaits a relayed retry gets -32603 naming it, an oversized one -32602; neither uses the round up",
  async fn() {
    await using r = await pair(shared, { maxWaits: 1, maxMessageBytes: 4096 });
    const stuck = stuckCall(r.a.parked);
    const s1 = inputRequired(await stuck.first());
    const ac = new AbortController();
    const holding = r.b.relay.resume(retry(r.b, s1.requestState), { signal: ac.signal });
    const call = eliciting(r.a.parked);
    const ir = inputRequired(await call.first());
    await assert.rejects(r.b.relay.resume(retry(r.b, ir.requestState)), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, -32603);
      assert.match(err.message, /1 retries relayed between replicas wait here already/);
      return true;
    });
    ac.abort(new Error("done"));
    await holding.catch(() => {});
    const big = { v1: { action: "accept", content: { name: "x".repeat(5000) } } };
    await assert.rejects(r.b.relay.resume(retry(r.b, ir.requestState, big)), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, -32602);
      assert.match(err.message, /may be at most 4096 bytes/);
      return true;
    });
    assert.deepEqual(call.answers, []);
    assert.ok(JSON.stringify(await r.b.relay.resume(retry(r.b, ir.requestState))).includes("Ada"));
  },
});

Deno.test({
  ...TEST,
  name: "junk on a replica's channel is ignored with one warning a minute, and relaying goes on",
  async fn() {
    await using r = await pair();
    const c = new Redis({ port: shared.port, host: "127.0.0.1", password: shared.password });
    try {
      for (const junk of ["not json", '{"t":"resume"}', '{"t":"answer","relayId":"x"}', "[]"]) {
        assert.equal(await c.publish(r.a.relay.channel!, junk), 1);
      }
      const warned = () =>
        r.a.logs.filter((l) => l.level === "warn" && /not a relay message/.test(String(l.msg)));
      await eventually(
        "four junk messages seen",
        () => r.a.logs.filter((l) => /not a relay message/.test(String(l.msg))).length === 4,
      );
      assert.equal(warned().length, 1, JSON.stringify(r.a.logs));
      // A forged answer for a relay id nobody waits on changes nothing.
      await c.publish(
        r.b.relay.channel!,
        JSON.stringify({ t: "answer", relayId: "x", result: {} }),
      );
      const call = eliciting(r.a.parked);
      const ir = inputRequired(await call.first());
      assert.ok(
        JSON.stringify(await r.b.relay.resume(retry(r.b, ir.requestState))).includes("Ada"),
      );
    } finally {
      c.disconnect();
    }
  },
});

Deno.test({
  ...TEST,
  name:
    "a relayed state is verified again on the owner: one sealed with another key is refused there",
  async fn() {
    await using r = await pair();
    const call = eliciting(r.a.parked);
    const ir = inputRequired(await call.first());
    const opened = r.b.codec.open(ir.requestState, ALICE);
    const other = new StateCodec({
      key: new TextEncoder().encode("o".repeat(48)),
      ttlMs: 600_000,
      clock: systemClock,
    });
    const forged = other.seal(
      { kind: "park", r: r.a.parked.replicaId, p: "whatever" },
      ALICE,
      opened.i,
    );
    const p = r.b.relay.resume({
      state: opened,
      requestState: forged,
      binding: ALICE,
      inputResponses: { v1: ACCEPT },
    });
    await refusal(p, "unknown_kid");
    assert.deepEqual(call.answers, []);
  },
});

Deno.test({
  ...TEST,
  name:
    "an owner that shuts down while serving a relayed retry answers it not pending, and cancels the call",
  async fn() {
    // b's clock never moves, so only the owner's answer can end b's wait.
    await using r = await pair(shared, { clock: new ManualClock(Date.now()) });
    const stuck = stuckCall(r.a.parked);
    const ir = inputRequired(await stuck.first());
    const refused = refusal(r.b.relay.resume(retry(r.b, ir.requestState)), "not_pending");
    await eventually("the owner to serve it", () => r.a.relay.stats.serving === 1);
    await r.a.relay.stop();
    await refused;
    await eventually("the call to be cancelled", () => stuck.cancelled !== undefined);
  },
});

Deno.test({
  ...TEST,
  name:
    "a receiver that shuts down while waiting answers its retry not pending and the owner cancels the call",
  async fn() {
    // Neither clock moves: only b's cancel can end the owner's resume.
    const clock = new ManualClock(Date.now());
    await using r = await pair(shared, { clock }, { clock });
    const stuck = stuckCall(r.a.parked);
    const ir = inputRequired(await stuck.first());
    const refused = refusal(r.b.relay.resume(retry(r.b, ir.requestState)), "not_pending");
    await eventually("the owner to serve it", () => r.a.relay.stats.serving === 1);
    await r.b.relay.stop();
    await refused;
    await eventually("the call to be cancelled", () => stuck.cancelled !== undefined);
    assert.equal(r.a.relay.stats.serving, 0);
  },
});
