import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Identity } from "../../core/auth/identity.ts";
import { RpcError } from "../backends/errors.ts";
import { canonicalJson, capsetKeyOf, memoizedChars, RequestPeer } from "./request_peer.ts";

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const LOG = "io.modelcontextprotocol/logLevel";
const alice: Identity = { issuer: "https://idp", subject: "alice", claims: {} };

function peerWith(caps: Record<string, unknown>, extra: Record<string, unknown> = {}, opts = {}) {
  return new RequestPeer({
    identity: alice,
    identityKey: "https://idp\u0000alice",
    meta: { [PV]: "2026-07-28", [CAPS]: caps, ...extra },
    capsText: JSON.stringify(caps),
    ...opts,
  });
}

Deno.test("request peer: the capset key ignores key order and capabilities that do not change a backend", () => {
  const a = peerWith({ elicitation: { form: {}, url: {} }, roots: {} });
  const b = peerWith({ roots: {}, elicitation: { url: {}, form: {} }, experimental: { x: {} } });
  assert.equal(a.capsetKey, b.capsetKey);
  assert.match(a.capsetKey, /^[0-9a-f]{16}$/);
  assert.notEqual(peerWith({ roots: {} }).capsetKey, a.capsetKey);
  assert.notEqual(peerWith({ sampling: {} }).capsetKey, peerWith({}).capsetKey);
});

Deno.test("request peer: the connection key is the identity hash and the capset key", () => {
  const p = peerWith({});
  const hash = createHash("sha256").update("https://idp\u0000alice").digest("hex").slice(0, 16);
  assert.equal(p.connectionKey, `i:${hash}:${p.capsetKey}`);
  assert.equal(p.id, p.connectionKey);
  assert.ok(!p.connectionKey.includes("alice"), "the identity never appears in clear");
});

Deno.test("request peer: log messages below the envelope's level, or without one, are not written", async () => {
  const written: Record<string, unknown>[] = [];
  const warn = peerWith({}, { [LOG]: "warning" });
  warn.attach((m) => written.push(m));
  const log = (level: string) => ({
    method: "notifications/message",
    params: { level, data: level },
  });
  await warn.notify(log("info"));
  await warn.notify(log("error"));
  await warn.notify({
    method: "notifications/progress",
    params: { progressToken: 1, progress: 1 },
  });
  assert.deepEqual(written.map((m) => m.method), [
    "notifications/message",
    "notifications/progress",
  ]);
  assert.equal((written[0]!.params as { level: string }).level, "error");

  const none = peerWith({});
  none.attach((m) => written.push(m));
  await none.notify(log("emergency"));
  assert.equal(written.length, 2);
  none.attach(undefined);
  await none.notify({ method: "notifications/progress", params: {} });
  assert.equal(written.length, 2);
});

Deno.test("request peer: a backend's input request fails at once without a bridge, and goes to one", async () => {
  const signal = new AbortController().signal;
  await assert.rejects(
    peerWith({ elicitation: {} }).request({ method: "elicitation/create" }, { signal }),
    (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, -32603);
      assert.match(err.message, /elicitation\/create.*2026-07-28 clients is not available/);
      return true;
    },
  );
  const bridged = peerWith({}, {}, {
    inputBridge: (_p: RequestPeer, req: { method: string }) => Promise.resolve({ got: req.method }),
  });
  assert.deepEqual(await bridged.request({ method: "roots/list" }, { signal }), {
    got: "roots/list",
  });
});

Deno.test("canonical JSON sorts keys at every level", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
  );
});

Deno.test("request peer: huge capability texts are hashed, not kept as memo keys", () => {
  const before = memoizedChars();
  const keys = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const caps = { extensions: { [`x.example/${i}`]: { pad: "p".repeat(100_000) } } };
    keys.add(capsetKeyOf(JSON.stringify(caps), caps));
  }
  assert.equal(keys.size, 20); // still one key per capability set
  const again = { extensions: { "x.example/3": { pad: "p".repeat(100_000) } } };
  assert.ok(keys.has(capsetKeyOf(JSON.stringify(again), again)));
  assert.ok(
    memoizedChars() - before < 100_000, // of the 2 MB sent
    `${memoizedChars() - before} characters of client text kept`,
  );
});
