import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { innerStateFor, passParams, passSlotOf, sealPassThrough } from "./pass.ts";
import { RequestStateError, StateCodec } from "./state.ts";

const codec = new StateCodec({ ttlMs: 60_000, clock: new ManualClock(1) });
const ALICE = { method: "tools/call", name: "modern_greet", identityKey: "idp\u0000alice" };

Deno.test("a backend's input_required keeps its requests; its state is sealed for the caller and handed back byte for byte", () => {
  const inputRequests = { who: { method: "elicitation/create", params: { message: "?" } } };
  const out = sealPassThrough(
    { resultType: "input_required", inputRequests, requestState: "inner é/+=" },
    "modern",
    codec,
    ALICE,
  );
  assert.deepEqual(out.inputRequests, inputRequests);
  assert.notEqual(out.requestState, "inner é/+=");
  const opened = codec.open(out.requestState, ALICE);
  assert.equal(opened.i, 1);
  assert.equal(innerStateFor(opened, "modern"), "inner é/+=");
  // The next round counts on.
  const next = sealPassThrough(
    { resultType: "input_required", inputRequests },
    "modern",
    codec,
    ALICE,
    opened,
  );
  const reopened = codec.open(next.requestState, ALICE);
  assert.equal(reopened.i, 2);
  assert.equal(innerStateFor(reopened, "modern"), undefined);
});

Deno.test("a pass state is refused for another backend, another caller, and as a park", () => {
  const out = sealPassThrough(
    { resultType: "input_required", requestState: "s" },
    "modern",
    codec,
    ALICE,
  );
  const opened = codec.open(out.requestState, ALICE);
  assert.throws(() => innerStateFor(opened, "other"), RequestStateError);
  assert.throws(
    () => codec.open(out.requestState, { ...ALICE, identityKey: "bob" }),
    RequestStateError,
  );
  const park = codec.open(codec.seal({ kind: "park", r: "r", p: "p" }, ALICE, 1), ALICE);
  assert.throws(() => innerStateFor(park, "modern"), RequestStateError);
});

Deno.test("a pass slot's retry goes once to its own backend; another backend is refused", () => {
  assert.equal(passSlotOf({}), undefined);
  assert.equal(passSlotOf(undefined), undefined);
  const answers = { who: { action: "accept", content: { name: "Ada" } } };
  const slot = { retry: { backend: "m", inner: "s1", inputResponses: answers } };
  assert.equal(passSlotOf({ pass: slot }), slot);
  assert.throws(
    () => passParams({ retry: { ...slot.retry } }, "other", { name: "t" }),
    (e: unknown) => e instanceof RequestStateError && e.reason === "other_target",
  );
  assert.deepEqual(passParams(slot, "m", { name: "t" }), {
    name: "t",
    inputResponses: answers,
    requestState: "s1",
  });
  assert.equal(slot.retry, undefined, "used once");
  assert.deepEqual(passParams(slot, "m", { name: "t" }), { name: "t" });
  // Neither answers nor a backend state: nothing is added.
  assert.deepEqual(
    passParams({ retry: { backend: "m", inputResponses: undefined } }, "m", { name: "t" }),
    { name: "t" },
  );
});
