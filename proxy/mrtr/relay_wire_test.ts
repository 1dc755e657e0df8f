import assert from "node:assert/strict";
import { RpcError } from "../backends/errors.ts";
import { answerText, errorAnswer, parseRelayMessage, settleAnswer } from "./relay_wire.ts";
import { RequestStateError } from "./state.ts";

const BINDING = { method: "tools/call", name: "t", identityKey: "idp\u0000alice" };
const RESUME = {
  t: "resume",
  relayId: "r1",
  state: "v1.k.b.m",
  binding: BINDING,
  inputResponses: { v1: { action: "accept" } },
  replyTo: "p:park:b",
  waitMs: 30_000,
};

Deno.test("relay messages round-trip through the parser", () => {
  assert.deepEqual(parseRelayMessage(JSON.stringify(RESUME), 1 << 20), RESUME);
  assert.deepEqual(parseRelayMessage('{"t":"cancel","relayId":"r1"}', 1 << 20), {
    t: "cancel",
    relayId: "r1",
  });
  const answer = { t: "answer", relayId: "r1", result: { content: [] } };
  assert.deepEqual(parseRelayMessage(JSON.stringify(answer), 1 << 20), answer);
});

Deno.test("anything else on the channel is refused: too long, not JSON, wrong shapes", () => {
  const bad = [
    "not json",
    "[]",
    "null",
    '{"t":"resume"}',
    JSON.stringify({ ...RESUME, relayId: "" }),
    JSON.stringify({ ...RESUME, relayId: "x".repeat(65) }),
    JSON.stringify({ ...RESUME, waitMs: 0 }),
    JSON.stringify({ ...RESUME, waitMs: "30s" }),
    JSON.stringify({ ...RESUME, binding: { method: "tools/call", name: "t" } }),
    JSON.stringify({ ...RESUME, state: 5 }),
    JSON.stringify({ t: "answer", relayId: "r1" }),
    JSON.stringify({ t: "answer", relayId: "r1", result: [] }),
    JSON.stringify({ t: "answer", relayId: "r1", refusal: "because" }),
    JSON.stringify({ t: "answer", relayId: "r1", error: { code: 1.5, message: "m" } }),
    JSON.stringify({ t: "other", relayId: "r1" }),
  ];
  for (const text of bad) assert.equal(parseRelayMessage(text, 1 << 20), undefined, text);
  assert.equal(parseRelayMessage(JSON.stringify(RESUME), 50), undefined, "too long");
});

Deno.test("errors travel as refusals (by reason) or JSON-RPC errors and come back as such", () => {
  const refused = settleAnswer(errorAnswer("r", new RequestStateError("replayed_round")));
  assert.ok(!refused.ok && refused.error instanceof RequestStateError);
  assert.equal((refused.error as RequestStateError).reason, "replayed_round");

  const wire = errorAnswer("r", new RpcError(-32001, "Backend timed out", { backend: "b" }));
  const rpc = settleAnswer(JSON.parse(JSON.stringify(wire)));
  assert.ok(!rpc.ok && rpc.error instanceof RpcError);
  assert.deepEqual([rpc.error.code, rpc.error.message, rpc.error.data], [
    -32001,
    "Backend timed out",
    { backend: "b" },
  ]);

  const plain = errorAnswer("r", new Error("socket hang up"));
  assert.deepEqual(plain, {
    t: "answer",
    relayId: "r",
    error: { code: -32603, message: "socket hang up" },
  });
});

Deno.test("an answer larger than the bound becomes -32603 naming both sizes", () => {
  const small = { t: "answer" as const, relayId: "r", result: { ok: true } };
  assert.deepEqual(answerText(small, 1024), { text: JSON.stringify(small) });
  const big = { t: "answer" as const, relayId: "r", result: { text: "x".repeat(2000) } };
  const { text, tooLarge } = answerText(big, 1024);
  assert.ok(tooLarge && tooLarge > 2000);
  const parsed = parseRelayMessage(text, 1024);
  assert.ok(parsed && parsed.t === "answer" && "error" in parsed);
  assert.equal(parsed.error.code, -32603);
  assert.match(parsed.error.message, new RegExp(`answer \\(${tooLarge} bytes\\).*at most 1024`));
});
