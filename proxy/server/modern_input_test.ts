import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { createLogger } from "../../core/log.ts";
import { ParkedCalls } from "../mrtr/parking.ts";
import { RequestStateError, StateCodec } from "../mrtr/state.ts";
import { bindingOf, type InputCall, ModernInput, type ParkRetry } from "./modern_input.ts";
import { RequestPeer } from "./request_peer.ts";

type AnyObject = Record<string, unknown>;

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const LOG = "io.modelcontextprotocol/logLevel";
const ALICE_KEY = "https://idp\u0000alice";
const ELICIT = { method: "elicitation/create", params: { message: "Name?", requestedSchema: {} } };

function setup(resumePark?: (r: ParkRetry) => Promise<AnyObject>) {
  const clock = new ManualClock(1_000_000);
  const logs: AnyObject[] = [];
  const log = createLogger({ level: "debug", sink: (l) => void logs.push(JSON.parse(l)) });
  const codec = new StateCodec({ ttlMs: 600_000, clock });
  const parked = new ParkedCalls({ codec, clock, log, timeoutMs: 600_000 });
  const input = new ModernInput({ codec, parked, ...(resumePark ? { resumePark } : {}) }, log);
  return { codec, parked, input, logs };
}

function peer(input: ModernInput, meta: AnyObject = {}) {
  return new RequestPeer({
    identity: { issuer: "https://idp", subject: "alice", claims: {} },
    identityKey: ALICE_KEY,
    meta: { [PV]: "2026-07-28", [CAPS]: { elicitation: {} }, ...meta },
    capsText: '{"elicitation":{}}',
    inputBridge: input.bridge,
  });
}

/** A call whose backend asks the client once (through the peer), then answers what it got. */
function askingCall(p: RequestPeer, params: AnyObject, gone = new AbortController().signal) {
  const cancelled: unknown[] = [];
  const call: InputCall = {
    peer: p,
    binding: bindingOf("tools/call", params, ALICE_KEY)!,
    params,
    start: async () => {
      const answer = await p.request(ELICIT, { signal: new AbortController().signal });
      await p.notify({ method: "notifications/message", params: { level: "info", data: "x" } });
      return { content: [{ type: "text", text: JSON.stringify(answer) }] };
    },
    cancel: (r) => cancelled.push(r),
    gone,
  };
  return { call, cancelled };
}

Deno.test("bindingOf: tool and prompt names, resource uris; other methods have none", () => {
  assert.deepEqual(bindingOf("tools/call", { name: "t" }, "k"), {
    method: "tools/call",
    name: "t",
    identityKey: "k",
  });
  assert.equal(bindingOf("prompts/get", { name: "p" }, "k")?.name, "p");
  assert.equal(
    bindingOf("resources/read", { uri: "file:///a", name: "x" }, "k")?.name,
    "file:///a",
  );
  assert.equal(bindingOf("tools/call", {}, "k")?.name, "");
  assert.equal(bindingOf("completion/complete", { ref: {} }, "k"), undefined);
  assert.equal(bindingOf("tools/list", {}, "k"), undefined);
});

Deno.test("modern input: a backend's request parks the call; the retry resumes it with the answer", async () => {
  const { input } = setup();
  const first = askingCall(peer(input), { name: "t" });
  const ir = await input.run(first.call);
  assert.equal(ir.resultType, "input_required");
  assert.deepEqual(ir.inputRequests, { v1: ELICIT });
  assert.equal(input.remembered, 1);
  const retry = askingCall(peer(input), {
    name: "t",
    inputResponses: { v1: { action: "accept", content: { name: "Ada" } } },
    requestState: ir.requestState,
  });
  const done = await input.run(retry.call);
  assert.match(JSON.stringify(done), /Ada/);
  assert.equal(input.remembered, 0, "forgotten once the call ended");
});

Deno.test("modern input: a park retry whose name routes nowhere now is refused before the park is touched", async () => {
  const { input, parked } = setup();
  const first = askingCall(peer(input), { name: "t" });
  const ir = await input.run(first.call);
  const params = {
    name: "t",
    inputResponses: { v1: { action: "accept", content: { name: "Ada" } } },
    requestState: ir.requestState,
  };
  const gone = askingCall(peer(input), params);
  await assert.rejects(
    input.run({ ...gone.call, direct: true, backendOf: () => undefined }),
    (e: unknown) => e instanceof RequestStateError && e.reason === "other_target",
  );
  assert.equal(parked.pending, 1, "still waiting for its real retry");
  const done = await input.run({
    ...askingCall(peer(input), params).call,
    direct: true,
    backendOf: () => "m",
  });
  assert.match(JSON.stringify(done), /Ada/);
});

Deno.test("modern input: a retry's SSE answer gets the resumed call's notifications", async () => {
  const { input } = setup();
  const original = peer(input, { [LOG]: "debug" });
  const ir = await input.run(askingCall(original, { name: "t" }).call);
  const retryPeer = peer(input);
  const written: AnyObject[] = [];
  retryPeer.attach((m) => written.push(m));
  await input.run(
    askingCall(retryPeer, {
      name: "t",
      inputResponses: { v1: { action: "decline" } },
      requestState: ir.requestState,
    }).call,
  );
  assert.deepEqual(written.map((m) => m.method), ["notifications/message"]);
  assert.equal(original.writer, undefined, "handed back after the retry");
});

Deno.test("modern input: a retry with a park state goes to the resumePark hook (the relay's seam)", async () => {
  const seen: ParkRetry[] = [];
  const { codec, input, parked } = setup((r) => (seen.push(r), Promise.resolve({ ok: 1 })));
  const binding = bindingOf("tools/call", { name: "t" }, ALICE_KEY)!;
  const text = codec.seal({ kind: "park", r: "other-replica", p: "p1" }, binding, 1);
  const retry = askingCall(peer(input), {
    name: "t",
    inputResponses: { v1: { action: "cancel" } },
    requestState: text,
  });
  assert.deepEqual(await input.run(retry.call), { ok: 1 });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.requestState, text);
  assert.deepEqual(seen[0]!.binding, binding);
  assert.deepEqual(seen[0]!.inputResponses, { v1: { action: "cancel" } });
  assert.equal(seen[0]!.state.kind, "park");
  assert.equal(parked.calls, 0);
});

Deno.test("modern input: bad states are refused before anything runs, logged with hashed keys at most once a minute", async () => {
  const { codec, input, logs } = setup(() => Promise.reject(new Error("must not resume")));
  const binding = bindingOf("tools/call", { name: "t" }, ALICE_KEY)!;
  const refused = async (requestState: unknown, reason: string) => {
    let started = false;
    const c = askingCall(peer(input), { name: "t", requestState });
    c.call.start = () => (started = true, Promise.resolve({}));
    await assert.rejects(input.run(c.call), (err: unknown) => {
      assert.ok(err instanceof RequestStateError);
      assert.equal(err.reason, reason);
      assert.deepEqual(err.toJsonRpc(), {
        code: -32602,
        message: "Invalid or expired requestState",
        data: { reason: "invalid_request_state" },
      });
      return true;
    });
    assert.equal(started, false);
  };
  await refused("v1.nope", "malformed");
  await refused(42, "malformed");
  await refused(
    codec.seal({ kind: "park", r: "r", p: "p" }, { ...binding, name: "u" }, 1),
    "other_target",
  );
  // A pass state on a call that is not direct (a composite tool's).
  await refused(codec.seal({ kind: "pass", be: "b", s: "x" }, binding, 1), "other_target");
  const warns = logs.filter((l) => l.level === "warn");
  assert.equal(warns.length, 1, JSON.stringify(logs));
  assert.equal(warns[0]!.msg, "requestState refused");
  assert.equal(warns[0]!.reason, "malformed");
  assert.match(String(warns[0]!.identity), /^[0-9a-f]{16}$/);
  assert.ok(!JSON.stringify(logs).includes("alice"), "no identity in clear");
  assert.equal(logs.filter((l) => l.msg === "requestState refused").length, 4);
});

Deno.test("modern input: a client that leaves while the call runs cancels it", async () => {
  const { input, parked } = setup();
  const gone = new AbortController();
  const p = peer(input);
  const cancelled: unknown[] = [];
  const backend = new AbortController();
  const running = input.run({
    peer: p,
    binding: bindingOf("tools/call", { name: "t" }, ALICE_KEY)!,
    params: { name: "t" },
    start: () =>
      new Promise((_, reject) =>
        backend.signal.addEventListener("abort", () => reject(backend.signal.reason))
      ),
    cancel: (r) => (cancelled.push(r), backend.abort(r)),
    gone: gone.signal,
  });
  gone.abort(new Error("left"));
  await assert.rejects(running, /left/);
  assert.equal(cancelled.length, 1);
  assert.equal(parked.calls, 0);
});

Deno.test("modern input: a direct call passes a 2026-07-28 backend's input_required with a sealed state; the retry must route to that backend", async () => {
  const { codec, input } = setup();
  const sent: (AnyObject | undefined)[] = [];
  /** A direct call to backend "m" (its connection reads the peer's pass slot). */
  const direct = (params: AnyObject, routesTo = "m") => {
    const p = peer(input);
    const call: InputCall = {
      peer: p,
      binding: bindingOf("tools/call", params, ALICE_KEY)!,
      params,
      direct: true,
      backendOf: () => routesTo,
      start: () => {
        const slot = p.pass!;
        sent.push(slot.retry);
        slot.retry = undefined;
        if (sent.length === 1) {
          slot.from = "m";
          return Promise.resolve({
            resultType: "input_required",
            inputRequests: { user_name: ELICIT },
            requestState: "backend-own",
          });
        }
        return Promise.resolve({ content: [{ type: "text", text: "done" }] });
      },
      cancel: () => {},
      gone: new AbortController().signal,
    };
    return call;
  };
  const first = await input.run(direct({ name: "t" }));
  assert.deepEqual(first.inputRequests, { user_name: ELICIT });
  const state = codec.open(first.requestState, bindingOf("tools/call", { name: "t" }, ALICE_KEY)!);
  assert.deepEqual({ kind: state.kind, i: state.i }, { kind: "pass", i: 1 });
  assert.equal(input.remembered, 0, "nothing stays in vmcp");

  const answers = { user_name: { action: "accept", content: { name: "Ada" } } };
  await assert.rejects(
    input.run(
      direct({ name: "t", inputResponses: answers, requestState: first.requestState }, "x"),
    ),
    (e: unknown) => e instanceof RequestStateError && e.reason === "other_target",
  );
  assert.equal(sent.length, 1, "refused before anything ran");
  const done = await input.run(
    direct({ name: "t", inputResponses: answers, requestState: first.requestState }),
  );
  assert.deepEqual(done, { content: [{ type: "text", text: "done" }] });
  assert.deepEqual(sent[1], { backend: "m", inner: "backend-own", inputResponses: answers });
});
