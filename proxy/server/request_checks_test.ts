import assert from "node:assert/strict";
import { exceedsJsonDepth, invalidMessage } from "./request_checks.ts";

const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

Deno.test("the depth scan counts brackets outside strings only, escaped quotes included", () => {
  assert.equal(exceedsJsonDepth(deep(64), 64), false);
  assert.equal(exceedsJsonDepth(deep(65), 64), true);
  assert.equal(exceedsJsonDepth(JSON.stringify({ s: "[{".repeat(500) }), 64), false);
  assert.equal(exceedsJsonDepth(JSON.stringify({ s: 'x\\"[[[[' + "[".repeat(200) }), 64), false);
  assert.equal(exceedsJsonDepth(JSON.stringify(["\\", deep(70)].join("")), 64), false);
  assert.equal(exceedsJsonDepth(`{"a\\\\":${deep(70)}}`, 64), true);
  assert.equal(exceedsJsonDepth(`{"a":"unterminated ${deep(70)}`, 64), false);
});

Deno.test("an empty batch and non-object arguments are answered; anything else passes", () => {
  assert.equal(invalidMessage([])?.status, 400);
  assert.equal(
    invalidMessage({ jsonrpc: "2.0", id: 1, method: "tools/call", params: {} }),
    undefined,
  );
  const bad = invalidMessage({
    jsonrpc: "2.0",
    id: 9,
    method: "prompts/get",
    params: { name: "p", arguments: ["x"] },
  });
  assert.equal(bad?.status, 200);
  assert.equal(invalidMessage({ jsonrpc: "2.0", id: 1, method: "ping" }), undefined);
});
