import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { createLogger } from "../../core/log.ts";
import { RpcError } from "../backends/errors.ts";
import { type InputRequiredResult, ParkedCalls, type ParkedCallsOptions } from "./parking.ts";
import { type RefusalReason, RequestStateError, StateCodec } from "./state.ts";

type AnyObject = Record<string, unknown>;

const ALICE = { method: "tools/call", name: "every_elicit", identityKey: "idp\u0000alice" };
const BOB = { ...ALICE, identityKey: "idp\u0000bob" };
const ELICIT = { method: "elicitation/create", params: { message: "Name?", requestedSchema: {} } };
const SAMPLE = { method: "sampling/createMessage", params: { messages: [], maxTokens: 5 } };
const TIMEOUT = 600_000;

function setup(opts: Partial<ParkedCallsOptions> = {}) {
  const clock = new ManualClock(1_000_000);
  const logs: AnyObject[] = [];
  const codec = new StateCodec({ ttlMs: TIMEOUT, clock });
  const parked = new ParkedCalls({
    codec,
    clock,
    log: createLogger({ sink: (l) => void logs.push(JSON.parse(l)) }),
    timeoutMs: TIMEOUT,
    ...opts,
  });
  return { clock, logs, codec, parked };
}

/** A backend call under the test's control: it asks the client through the bridge. */
function backendCall() {
  let resolve!: (v: AnyObject) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<AnyObject>((res, rej) => (resolve = res, reject = rej));
  return { promise, resolve, reject, peer: {} };
}

function inputRequired(r: AnyObject): InputRequiredResult {
  assert.equal(r.resultType, "input_required", JSON.stringify(r));
  return r as InputRequiredResult;
}

async function refusal(p: Promise<unknown>, reason: RefusalReason) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RequestStateError, String(err));
    assert.equal(err.reason, reason);
    assert.equal(err.code, -32602);
    assert.deepEqual(err.data, { reason: "invalid_request_state" });
    return true;
  });
}

Deno.test("a call that needs no input answers its result, and nothing stays tracked", async () => {
  const { parked } = setup();
  const c = backendCall();
  const answer = parked.race(c.peer, ALICE, () => c.promise);
  c.resolve({ content: [{ type: "text", text: "done" }] });
  assert.deepEqual(await answer, { content: [{ type: "text", text: "done" }] });
  assert.equal(parked.calls, 0);
});

Deno.test("a call's error is the race's error", async () => {
  const { parked } = setup();
  const c = backendCall();
  const answer = parked.race(c.peer, ALICE, () => c.promise);
  c.reject(new RpcError(-32000, "backend broke"));
  await assert.rejects(answer, /backend broke/);
});

Deno.test("a backend elicitation becomes input_required; the retry answers it and gets the call's result", async () => {
  const { parked, codec } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const asked = parked.bridge(c.peer, ELICIT);
  const r = inputRequired(await first);
  assert.deepEqual(r.inputRequests, { v1: ELICIT });
  const state = codec.open(r.requestState, ALICE);
  assert.equal(state.kind, "park");
  assert.equal(state.i, 1);
  assert.equal(parked.pending, 1);

  const retry = parked.resume(state, {
    v1: { action: "accept", content: { name: "Zoe" } },
    v9: { action: "accept" }, // extra keys are ignored
  });
  assert.deepEqual(await asked, { action: "accept", content: { name: "Zoe" } });
  c.resolve({ structuredContent: { name: "Zoe" } });
  assert.deepEqual(await retry, { structuredContent: { name: "Zoe" } });
  assert.equal(parked.pending, 0);
  assert.equal(parked.calls, 0);
});

Deno.test("requests the backend sends together are asked together, as v1 and v2", async () => {
  const { parked, codec } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const a = parked.bridge(c.peer, ELICIT);
  const b = parked.bridge(c.peer, SAMPLE);
  const r = inputRequired(await first);
  assert.deepEqual(r.inputRequests, { v1: ELICIT, v2: SAMPLE });
  const retry = parked.resume(codec.open(r.requestState, ALICE), {
    v1: { action: "decline" },
    v2: { role: "assistant", content: { type: "text", text: "x" } },
  });
  assert.deepEqual(await a, { action: "decline" });
  assert.deepEqual(await b, { role: "assistant", content: { type: "text", text: "x" } });
  c.resolve({ both: true });
  assert.deepEqual(await retry, { both: true });
});

Deno.test("unanswered keys are asked again in the next round; the earlier round's state is refused", async () => {
  const { parked, codec } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const elicit = parked.bridge(c.peer, ELICIT);
  const r1 = inputRequired(await first);
  assert.deepEqual(Object.keys(r1.inputRequests), ["v1"]);
  // A second request comes while parked: it is part of the next round.
  const sample = parked.bridge(c.peer, SAMPLE);
  const s1 = codec.open(r1.requestState, ALICE);
  const r2 = inputRequired(await parked.resume(s1, { v2: "not an object" }));
  assert.deepEqual(r2.inputRequests, { v1: ELICIT, v2: SAMPLE });
  const s2 = codec.open(r2.requestState, ALICE);
  assert.equal(s2.i, 2);
  await refusal(parked.resume(s1, { v1: { action: "decline" } }), "replayed_round");

  const r3 = inputRequired(await parked.resume(s2, { v2: { role: "assistant", content: {} } }));
  assert.deepEqual(r3.inputRequests, { v1: ELICIT });
  assert.deepEqual(await sample, { role: "assistant", content: {} });
  const s3 = codec.open(r3.requestState, ALICE);
  const last = parked.resume(s3, { v1: { action: "decline" } });
  assert.deepEqual(await elicit, { action: "decline" });
  c.resolve({ content: [] });
  assert.deepEqual(await last, { content: [] });
});

Deno.test("one-shot rounds: of two concurrent retries the first wins, the other gets -32602", async () => {
  const { parked, codec } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const asked = parked.bridge(c.peer, ELICIT);
  const state = codec.open(inputRequired(await first).requestState, ALICE);
  const a = parked.resume(state, { v1: { action: "accept", content: { n: 1 } } });
  const b = parked.resume(state, { v1: { action: "accept", content: { n: 2 } } });
  await refusal(b, "replayed_round");
  assert.deepEqual(await asked, { action: "accept", content: { n: 1 } });
  c.resolve({ n: 1 });
  assert.deepEqual(await a, { n: 1 });
  // Repeated after the call finished: nothing is pending any more.
  await refusal(parked.resume(state, {}), "not_pending");
});

Deno.test("a call that ends while parked answers the round's retry (its withdrawn request is not asked again)", async () => {
  const { parked, codec, clock, logs } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const asked = parked.bridge(c.peer, ELICIT);
  const state = codec.open(inputRequired(await first).requestState, ALICE);
  c.resolve({ finished: "without the answer" });
  await assert.rejects(asked, /ended before the client answered/);
  assert.equal(parked.pending, 0);
  assert.deepEqual(await parked.resume(state, { v1: { action: "accept" } }), {
    finished: "without the answer",
  });
  await refusal(parked.resume(state, {}), "not_pending");

  // Not retried: dropped when the round expires.
  const d = backendCall();
  const again = parked.race(d.peer, ALICE, () => d.promise);
  void parked.bridge(d.peer, ELICIT).catch(() => {});
  const s2 = codec.open(inputRequired(await again).requestState, ALICE);
  d.resolve({ late: true });
  await waitUntil(() => parked.calls === 0);
  clock.advance(TIMEOUT);
  await waitUntil(() => logs.some((l) => /result is dropped/.test(String(l.msg))));
  await refusal(parked.resume(s2, {}), "not_pending");
});

Deno.test("timeout: the elicitation is cancelled, sampling fails, the late result is logged and dropped, the retry is refused", async () => {
  const { parked, codec, clock, logs } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const elicit = parked.bridge(c.peer, ELICIT);
  const sample = parked.bridge(c.peer, SAMPLE);
  const state = codec.open(inputRequired(await first).requestState, ALICE);
  clock.advance(TIMEOUT - 1);
  await Promise.resolve();
  assert.equal(parked.pending, 2);
  clock.advance(1);
  assert.deepEqual(await elicit, { action: "cancel" });
  await assert.rejects(sample, (e: unknown) => e instanceof RpcError && e.code === -32603);
  assert.equal(parked.pending, 0);
  c.resolve({ secret: "result" });
  await waitUntil(() => parked.calls === 0);
  assert.ok(logs.some((l) => /result is dropped/.test(String(l.msg))), JSON.stringify(logs));
  assert.ok(!JSON.stringify(logs).includes("secret"));
  await refusal(parked.resume(state, { v1: { action: "accept" } }), "not_pending");
});

Deno.test("bounds: past maxPendingPerIdentity or maxPending calls waiting for input, the backend's request gets -32603 naming the bound", async () => {
  const { parked, codec } = setup({ maxPending: 3, maxPendingPerIdentity: 2 });
  const bound = (name: string) => (e: unknown) =>
    e instanceof RpcError && e.code === -32603 &&
    new RegExp(`operational\\.inputRequired\\.${name}\\)`).test(e.message);
  const calls = Array.from({ length: 4 }, backendCall);
  const [a1, a2, a3, b1] = calls as [
    ReturnType<typeof backendCall>,
    ReturnType<typeof backendCall>,
    ReturnType<typeof backendCall>,
    ReturnType<typeof backendCall>,
  ];
  const answers = [a1, a2, a3].map((c) => parked.race(c.peer, ALICE, () => c.promise));
  const b = parked.race(b1.peer, BOB, () => b1.promise);
  const held = [parked.bridge(a1.peer, ELICIT), parked.bridge(a2.peer, ELICIT)];
  // A third call of alice waiting for input is one too many.
  await assert.rejects(parked.bridge(a3.peer, ELICIT), bound("maxPendingPerIdentity"));
  // One call may ask several things at once, up to the same bound.
  held.push(parked.bridge(a1.peer, SAMPLE));
  await assert.rejects(parked.bridge(a1.peer, ELICIT), bound("maxPendingPerIdentity"));
  // Bob has room of his own; the replica's bound then stops a fourth call.
  const c1 = backendCall();
  const c = parked.race(c1.peer, { ...BOB, identityKey: "carol" }, () => c1.promise);
  held.push(parked.bridge(b1.peer, ELICIT));
  await assert.rejects(parked.bridge(c1.peer, ELICIT), bound("maxPending"));
  assert.equal(parked.waiting, 3);
  assert.equal(parked.pending, 4);

  // A parked call holds its slot until it is answered; then there is room again.
  const r = await answers[0]!;
  const state = codec.open((r as InputRequiredResult).requestState, ALICE);
  const retry = parked.resume(state, {
    v1: { action: "decline" },
    v2: { role: "assistant", content: {} },
  });
  a1.resolve({ done: 1 });
  assert.deepEqual(await retry, { done: 1 });
  assert.equal(parked.waiting, 2);
  held.push(parked.bridge(a3.peer, ELICIT));
  for (const x of [a2, a3, b1, c1]) x.resolve({});
  await Promise.allSettled([...held, ...answers, b, c]);
  await waitUntil(() => parked.pending === 0 && parked.calls === 0);
});

Deno.test("a request for a call nobody waits on is refused; a state of another replica is not pending", async () => {
  const { parked, codec } = setup();
  await assert.rejects(parked.bridge({}, ELICIT), /no client is waiting/);
  const foreign = codec.open(
    codec.seal({ kind: "park", r: "another-replica", p: "x" }, ALICE, 1),
    ALICE,
  );
  await refusal(parked.resume(foreign, {}), "not_pending");
  const pass = codec.open(codec.seal({ kind: "pass", be: "b", s: "s" }, ALICE, 1), ALICE);
  await refusal(parked.resume(pass, {}), "malformed");
});

Deno.test("the backend withdrawing its request drops it from the next round", async () => {
  const { parked, codec } = setup();
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const withdraw = new AbortController();
  const asked = parked.bridge(c.peer, ELICIT, { signal: withdraw.signal });
  const state = codec.open(inputRequired(await first).requestState, ALICE);
  withdraw.abort(new Error("backend cancelled"));
  await assert.rejects(asked, /backend cancelled/);
  assert.equal(parked.pending, 0);
  const retry = parked.resume(state, { v1: { action: "accept" } });
  c.resolve({ ok: true });
  assert.deepEqual(await retry, { ok: true });
});

Deno.test("the client leaving while the call runs cancels the backend call", async () => {
  const { parked } = setup();
  const c = backendCall();
  const leave = new AbortController();
  let cancelled: unknown;
  const answer = parked.race(c.peer, ALICE, () => c.promise, {
    signal: leave.signal,
    cancel: (r) => {
      cancelled = r;
      c.reject(r);
    },
  });
  leave.abort(new Error("client went away"));
  await assert.rejects(answer, /client went away/);
  assert.match(String(cancelled), /client went away/);
  await waitUntil(() => parked.calls === 0);
});

Deno.test("requests a backend sends within gatherMs of each other reach the client in one round", async () => {
  const { parked, clock, codec } = setup({ gatherMs: 25 });
  const c = backendCall();
  let answered = false;
  const first = parked.race(c.peer, ALICE, () => c.promise);
  first.finally(() => (answered = true)).catch(() => {});
  const elicit = parked.bridge(c.peer, {
    ...ELICIT,
    params: { ...ELICIT.params, _meta: { progressToken: 0 } },
  });
  await ticks();
  assert.equal(answered, false, "answered before the gather window ended");
  const sample = parked.bridge(c.peer, SAMPLE);
  clock.advance(25);
  const round = inputRequired(await first);
  assert.deepEqual(round.inputRequests, { v1: ELICIT, v2: SAMPLE });
  const retry = parked.resume(codec.open(round.requestState, ALICE), {
    v1: { action: "accept", content: { name: "Ada" } },
    v2: { role: "assistant", content: { type: "text", text: "hi" } },
  });
  assert.deepEqual(await elicit, { action: "accept", content: { name: "Ada" } });
  assert.equal(((await sample).content as AnyObject).text, "hi");
  c.resolve({ done: true });
  assert.deepEqual(await retry, { done: true });
});

Deno.test("a call that ends while requests are gathered answers its result", async () => {
  const { parked } = setup({ gatherMs: 25 });
  const c = backendCall();
  const first = parked.race(c.peer, ALICE, () => c.promise);
  const asked = parked.bridge(c.peer, ELICIT);
  await ticks();
  c.resolve({ done: true });
  assert.deepEqual(await first, { done: true });
  await assert.rejects(asked, /call ended before the client answered/);
  assert.equal(parked.calls, 0);
  assert.equal(parked.waiting, 0);
});

async function ticks() {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
}

async function waitUntil(fn: () => boolean) {
  for (let i = 0; i < 1000 && !fn(); i++) await new Promise((r) => setTimeout(r, 0));
  assert.ok(fn(), "condition not reached");
}
