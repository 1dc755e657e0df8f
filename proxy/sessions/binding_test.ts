import assert from "node:assert/strict";
import { bindingErrorResponse, checkBinding } from "./binding.ts";

const alice = "https://issuer\u0000alice";
const mallory = "https://issuer\u0000mallory";

Deno.test("the identity that created a session may use it", () => {
  assert.deepEqual(checkBinding({ identityKey: alice }, alice), { ok: true });
  assert.deepEqual(checkBinding({ identityKey: "unauthenticated" }, "unauthenticated"), {
    ok: true,
  });
});

Deno.test("another identity is refused as a mismatch with 403", () => {
  const r = checkBinding({ identityKey: alice }, mallory);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, "identity-mismatch");
  assert.equal(!r.ok && r.status, 403);
});

Deno.test("the same subject from another issuer is another identity", () => {
  assert.equal(checkBinding({ identityKey: alice }, "https://other\u0000alice").ok, false);
});

Deno.test("an anonymous session refuses a token presented later", () => {
  const r = checkBinding({ identityKey: "unauthenticated" }, alice);
  assert.equal(!r.ok && r.reason, "anonymous-upgrade");
});

Deno.test("an authenticated session refuses an anonymous caller", () => {
  const r = checkBinding({ identityKey: alice }, "unauthenticated");
  assert.equal(!r.ok && r.reason, "anonymous-downgrade");
});

Deno.test("an empty bound identity never matches, not even an empty live one", () => {
  assert.equal(checkBinding({ identityKey: "" }, "").ok, false);
});

Deno.test("the 403 answer says nothing about the owner", async () => {
  const r = checkBinding({ identityKey: alice }, mallory);
  assert.ok(!r.ok);
  const res = bindingErrorResponse(r);
  assert.equal(res.status, 403);
  const text = await res.text();
  assert.equal(text.includes("alice"), false);
  assert.equal(JSON.parse(text).jsonrpc, "2.0");
});
