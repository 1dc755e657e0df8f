/**
 * MRTR and identities (ADR 0010 §4, §7.2, §7.4), through a real proxy with OIDC incoming auth
 * (a real JWKS issuer) in front of server-everything: a `requestState` is bound to the caller,
 * so another user presenting it is refused (-32602) and the owner's retry still completes; and
 * `operational.inputRequired.maxPendingPerIdentity` bounds one caller's calls waiting for input
 * (past it the backend's request gets -32603 naming the bound) without touching another's.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { authProxy, config, oidcIncoming } from "../auth/helpers.ts";
import {
  ELICIT,
  everythingBackend,
  inputRequired,
  INVALID_STATE,
  modernCall,
} from "./mrtr_helpers.ts";

async function setup(operational: Record<string, unknown> = {}) {
  const idp = await startOidcIssuer();
  const p = await authProxy(config({
    incomingAuth: oidcIncoming(idp.issuer),
    operational: { timeouts: { default: "60s" }, ...operational },
    backends: [everythingBackend()],
  }));
  return {
    idp,
    url: p.url,
    alice: await idp.sign({ sub: "alice" }),
    bob: await idp.sign({ sub: "bob" }),
    stop: async () => {
      await p.stop();
      await idp.stop();
    },
  };
}

const answer = (name: string) => ({ v1: { action: "accept", content: { name } } });

Deno.test("MRTR: another identity presenting a requestState is refused with -32602; the owner's retry completes", async () => {
  const s = await setup();
  try {
    const first = inputRequired(
      await modernCall(s.url, "tools/call", { name: ELICIT, arguments: {} }, { token: s.alice }),
    );
    const retry = { name: ELICIT, arguments: {}, requestState: first.requestState };

    const byBob = await modernCall(s.url, "tools/call", {
      ...retry,
      inputResponses: answer("Mallory"),
    }, { token: s.bob });
    assert.equal(byBob.status, 200);
    assert.deepEqual(byBob.error, INVALID_STATE, JSON.stringify(byBob));

    // Without a token there is no retry at all.
    const anonymous = await modernCall(s.url, "tools/call", {
      ...retry,
      inputResponses: answer("Nobody"),
    });
    assert.equal(anonymous.status, 401);

    const byAlice = await modernCall(s.url, "tools/call", {
      ...retry,
      inputResponses: answer("Alice"),
    }, { token: s.alice });
    const text = JSON.stringify(byAlice.result?.content);
    assert.match(text, /Name: Alice/, JSON.stringify(byAlice));
    assert.doesNotMatch(text, /Mallory/);
  } finally {
    await s.stop();
  }
});

Deno.test("MRTR: past maxPendingPerIdentity the backend's request gets -32603 naming the bound; other callers still park", async () => {
  const s = await setup({ inputRequired: { maxPendingPerIdentity: 1 } });
  try {
    const parkedA = inputRequired(
      await modernCall(s.url, "tools/call", { name: ELICIT, arguments: {} }, { token: s.alice }),
    );
    // Alice again, with another capability set (so another backend session of hers): her one
    // waiting call is the bound, and server-everything's elicitation request is refused.
    const second = await modernCall(s.url, "tools/call", { name: ELICIT, arguments: {} }, {
      token: s.alice,
      caps: { elicitation: {}, sampling: {} },
    });
    const refused = JSON.stringify(second);
    assert.notEqual(second.result?.resultType, "input_required", refused);
    assert.match(refused, /-32603/, refused);
    assert.match(refused, /operational\.inputRequired\.maxPendingPerIdentity/, refused);

    // Bob is another identity: not bound by Alice's calls.
    const parkedB = inputRequired(
      await modernCall(s.url, "tools/call", { name: ELICIT, arguments: {} }, { token: s.bob }),
    );

    // Alice's parked call completes; then she may park again.
    const doneA = await modernCall(s.url, "tools/call", {
      name: ELICIT,
      arguments: {},
      inputResponses: answer("Alice"),
      requestState: parkedA.requestState,
    }, { token: s.alice });
    assert.match(JSON.stringify(doneA.result?.content), /Name: Alice/, JSON.stringify(doneA));
    inputRequired(
      await modernCall(s.url, "tools/call", { name: ELICIT, arguments: {} }, {
        token: s.alice,
        caps: { elicitation: {}, sampling: {} },
      }),
    );
    const doneB = await modernCall(s.url, "tools/call", {
      name: ELICIT,
      arguments: {},
      inputResponses: answer("Bob"),
      requestState: parkedB.requestState,
    }, { token: s.bob });
    assert.match(JSON.stringify(doneB.result?.content), /Name: Bob/, JSON.stringify(doneB));
  } finally {
    await s.stop();
  }
});
