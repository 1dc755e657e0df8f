import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createHmac as nodeHmac } from "node:crypto";
import { z } from "zod";
import { ManualClock } from "../../core/clock.ts";
import { createMcpHandlerV2, McpServerV2 } from "../../core/sdk.ts";
import {
  INVALID_REQUEST_STATE,
  keyId,
  refusalLogFields,
  type RefusalReason,
  RequestStateError,
  StateCodec,
  stateKeysFromEnv,
} from "./state.ts";

const KEY = new TextEncoder().encode("k".repeat(32));
const OTHER_KEY = new TextEncoder().encode("o".repeat(40));
const ALICE = { method: "tools/call", name: "web_deploy", identityKey: "https://idp\u0000alice" };
const PARK = { kind: "park" as const, r: "replica1", p: "park1" };

function codec(
  clock = new ManualClock(1_000),
  opts: { key?: Uint8Array; previousKey?: Uint8Array } = { key: KEY },
) {
  return new StateCodec({ ...opts, ttlMs: 60_000, clock });
}

function refusal(fn: () => unknown, reason: RefusalReason) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RequestStateError, String(err));
    assert.equal(err.reason, reason);
    assert.deepEqual(err.toJsonRpc(), {
      code: -32602,
      message: reason === "not_pending" ? err.message : "Invalid or expired requestState",
      data: { reason: "invalid_request_state" },
    });
    return true;
  });
}

/** Re-signs a modified payload with `key` (what an attacker holding no key cannot do). */
function forge(text: string, edit: (p: Record<string, unknown>) => void, key = KEY): string {
  const [, kid, body] = text.split(".");
  const p = JSON.parse(Buffer.from(body!, "base64url").toString());
  edit(p);
  const json = JSON.stringify(p);
  const hmac = createHmac(key, `vmcp.requestState.v1|${kid}|${json}`);
  return `v1.${kid}.${Buffer.from(json).toString("base64url")}.${hmac}`;
}

function createHmac(key: Uint8Array, text: string): string {
  return nodeHmac("sha256", key).update(text).digest("base64url");
}

Deno.test("a sealed park state opens for the same caller, method and name, with its round", () => {
  const c = codec();
  const text = c.seal(PARK, ALICE, 3);
  assert.match(text, /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const opened = c.open(text, ALICE);
  assert.equal(opened.kind, "park");
  assert.equal(opened.i, 3);
  assert.deepEqual({ r: (opened as { r: string }).r, p: (opened as { p: string }).p }, {
    r: "replica1",
    p: "park1",
  });
});

Deno.test("a pass state carries the backend's inner state byte for byte", () => {
  const c = codec();
  const inner = "opaque/+=state\u00e9";
  const opened = c.open(c.seal({ kind: "pass", be: "modern", s: inner }, ALICE, 1), ALICE);
  assert.equal(opened.kind, "pass");
  assert.equal((opened as { s: string }).s, inner);
  assert.equal((opened as { be: string }).be, "modern");
});

Deno.test("the identity never appears in clear in the state; the kid is sha256(key)[:8]", () => {
  const c = codec();
  const text = c.seal(PARK, ALICE, 1);
  const json = Buffer.from(text.split(".")[2]!, "base64url").toString();
  assert.ok(!json.includes("alice"), json);
  assert.ok(!json.includes("idp"), json);
  const b = JSON.parse(json).b as string;
  assert.equal(Buffer.from(b, "base64url").byteLength, 16);
  assert.equal(c.kid, createHash("sha256").update(KEY).digest("hex").slice(0, 8));
  assert.equal(text.split(".")[1], keyId(KEY));
});

Deno.test("the refusal answer is the v2 SDK's own answer to a bad requestState (HTTP 200, -32602)", async () => {
  // The SDK is the oracle: a real v2 handler answers a retry whose requestState it cannot use.
  const handler = createMcpHandlerV2(() => {
    const s = new McpServerV2({ name: "oracle", version: "1.0.0" });
    s.registerTool("t", { inputSchema: z.object({}) }, () => ({ content: [] }));
    return s;
  }, { legacy: "reject" });
  try {
    const body = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: "t",
        arguments: {},
        requestState: 42,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    };
    const res = await handler.fetch(
      new Request("http://oracle/mcp", {
        method: "POST",
        body: JSON.stringify(body),
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "t",
        },
      }),
    );
    assert.equal(res.status, 200);
    const sdk = (await res.json()).error;
    assert.deepEqual(new RequestStateError("bad_mac").toJsonRpc(), sdk);
    assert.deepEqual({ ...INVALID_REQUEST_STATE, data: { ...INVALID_REQUEST_STATE.data } }, sdk);
  } finally {
    await handler.close();
  }
});

Deno.test("refused: garbage, wrong shape, non-string", () => {
  const c = codec();
  for (const bad of ["", "x", "v1.a.b", "v2.a.b.c", "v1.zz.!!.??", 42, null, {}]) {
    assert.throws(() => c.open(bad, ALICE), RequestStateError, String(bad));
  }
  refusal(() => c.open("v1.zz.e30.e30", ALICE), "unknown_kid");
});

Deno.test("refused: a tampered payload or signature (bad MAC)", () => {
  const c = codec();
  const text = c.seal(PARK, ALICE, 1);
  const [v, kid, body, sig] = text.split(".") as [string, string, string, string];
  const p = JSON.parse(Buffer.from(body, "base64url").toString());
  p.p = "someone-elses-park";
  const tampered = Buffer.from(JSON.stringify(p)).toString("base64url");
  refusal(() => c.open(`${v}.${kid}.${tampered}.${sig}`, ALICE), "bad_mac");
  const flipped = sig.slice(0, -2) + (sig.endsWith("AA") ? "BB" : "AA");
  refusal(() => c.open(`${v}.${kid}.${body}.${flipped}`, ALICE), "bad_mac");
  refusal(() => c.open(`${v}.${kid}.${body}.${sig.slice(0, 10)}`, ALICE), "bad_mac");
});

Deno.test("refused: a state signed with another key (a forger's, or another deployment's)", () => {
  const mine = codec();
  const theirs = codec(new ManualClock(1_000), { key: OTHER_KEY });
  refusal(() => mine.open(theirs.seal(PARK, ALICE, 1), ALICE), "unknown_kid");
  // Same kid claimed, signed with another key.
  const text = mine.seal(PARK, ALICE, 1);
  refusal(() => mine.open(forge(text, () => {}, OTHER_KEY), ALICE), "bad_mac");
});

Deno.test("refused: expired", () => {
  const clock = new ManualClock(1_000);
  const c = codec(clock);
  const text = c.seal(PARK, ALICE, 1);
  clock.advance(59_999);
  c.open(text, ALICE);
  clock.advance(1);
  refusal(() => c.open(text, ALICE), "expired");
});

Deno.test("refused: another identity", () => {
  const c = codec();
  const text = c.seal(PARK, ALICE, 1);
  refusal(() => c.open(text, { ...ALICE, identityKey: "https://idp\u0000bob" }), "other_identity");
  refusal(() => c.open(text, { ...ALICE, identityKey: "unauthenticated" }), "other_identity");
});

Deno.test("refused: another method or another tool", () => {
  const c = codec();
  const text = c.seal(PARK, ALICE, 1);
  refusal(() => c.open(text, { ...ALICE, name: "web_delete" }), "other_target");
  refusal(() => c.open(text, { ...ALICE, method: "prompts/get" }), "other_target");
});

Deno.test("refused: a well-signed payload of the wrong shape", () => {
  const c = codec();
  const text = c.seal(PARK, ALICE, 1);
  refusal(() => c.open(forge(text, (p) => (p.kind = "other")), ALICE), "malformed");
  refusal(() => c.open(forge(text, (p) => (p.i = 0)), ALICE), "malformed");
  refusal(() => c.open(forge(text, (p) => delete p.exp), ALICE), "malformed");
});

Deno.test("rotation: states of the previous key still open, new states use the new key", () => {
  const clock = new ManualClock(1_000);
  const before = codec(clock, { key: OTHER_KEY });
  const old = before.seal(PARK, ALICE, 1);
  const after = codec(clock, { key: KEY, previousKey: OTHER_KEY });
  assert.equal(after.open(old, ALICE).i, 1);
  assert.equal(after.seal(PARK, ALICE, 1).split(".")[1], keyId(KEY));
  // The previous key's binding is its own: another identity is still refused.
  refusal(() => after.open(old, { ...ALICE, identityKey: "x" }), "other_identity");
  // Once the previous key is dropped, its states are refused.
  refusal(() => codec(clock, { key: KEY }).open(old, ALICE), "unknown_kid");
});

Deno.test("without a configured key each codec makes its own: states do not cross", () => {
  const a = codec(new ManualClock(), {});
  const b = codec(new ManualClock(), {});
  assert.ok(a.randomKey);
  assert.notEqual(a.kid, b.kid);
  refusal(() => b.open(a.seal(PARK, ALICE, 1), ALICE), "unknown_kid");
});

Deno.test("keys shorter than 32 bytes are refused with the variable's name", () => {
  assert.throws(
    () => stateKeysFromEnv((n) => n === "VMCP_REQUEST_STATE_KEY" ? "short" : undefined),
    /VMCP_REQUEST_STATE_KEY is 5 bytes long; a requestState key needs at least 32 bytes/,
  );
  assert.throws(
    () =>
      stateKeysFromEnv((n) =>
        n === "VMCP_REQUEST_STATE_KEY" ? "k".repeat(32) : n.endsWith("PREVIOUS") ? "p" : undefined
      ),
    /VMCP_REQUEST_STATE_KEY_PREVIOUS is 1 bytes long/,
  );
  assert.throws(
    () => stateKeysFromEnv((n) => n.endsWith("PREVIOUS") ? "p".repeat(32) : undefined),
    /VMCP_REQUEST_STATE_KEY_PREVIOUS is set but VMCP_REQUEST_STATE_KEY is not/,
  );
  assert.throws(
    () => new StateCodec({ key: new Uint8Array(31), ttlMs: 1, clock: new ManualClock() }),
    /31 bytes/,
  );
  assert.deepEqual(stateKeysFromEnv(() => undefined), {});
  const keys = stateKeysFromEnv((n) => n === "VMCP_REQUEST_STATE_KEY" ? "k".repeat(32) : undefined);
  assert.deepEqual(keys.key, KEY);
});

Deno.test("a refusal's log fields hold at most 200 characters of the client's name or uri, and no identity", () => {
  const binding = { ...ALICE, name: "u".repeat(100_000) };
  const fields = refusalLogFields(new RequestStateError("bad_mac"), binding);
  assert.equal((fields.name as string).length, 200);
  assert.ok(!JSON.stringify(fields).includes("alice"));
});
