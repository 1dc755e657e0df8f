import assert from "node:assert/strict";
import {
  ANONYMOUS_IDENTITY,
  ANONYMOUS_IDENTITY_KEY,
  identityKey,
  isAnonymous,
} from "./identity.ts";

Deno.test("identityKey joins issuer and subject with a NUL so that no two pairs collide", () => {
  assert.equal(identityKey({ issuer: "https://a", subject: "b", claims: {} }), "https://a\u0000b");
  assert.notEqual(
    identityKey({ issuer: "https://a/b", subject: "c", claims: {} }),
    identityKey({ issuer: "https://a", subject: "b/c", claims: {} }),
  );
});

Deno.test("the anonymous identity has the unauthenticated sentinel key, distinct from any token holder", () => {
  assert.equal(identityKey(ANONYMOUS_IDENTITY), ANONYMOUS_IDENTITY_KEY);
  assert.ok(isAnonymous(ANONYMOUS_IDENTITY));
  const impostor = { issuer: "", subject: "anonymous", claims: {}, token: "t" };
  assert.ok(!isAnonymous(impostor));
  assert.notEqual(identityKey(impostor), ANONYMOUS_IDENTITY_KEY);
  assert.ok(Object.isFrozen(ANONYMOUS_IDENTITY));
});
