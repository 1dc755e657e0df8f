import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { BackendSessionPool, MAX_CAPSETS_PER_IDENTITY, type PooledPeer } from "./identity_pool.ts";
import { RpcError } from "./errors.ts";

function peer(key: string, token = "t1"): PooledPeer {
  const identity: Identity = { issuer: "i", subject: key, claims: {}, token };
  return {
    id: key,
    connectionKey: key,
    identityKey: `i\u0000${key}`,
    identity,
    clientCapabilities: () => ({ elicitation: {} }),
    request: () => Promise.reject(new Error("unused")),
    notify: () => Promise.resolve(),
  };
}

function pool(max: number, idleMs = 1000) {
  const clock = new ManualClock(0);
  const ended: string[] = [];
  const p = new BackendSessionPool({
    backend: "web",
    max,
    idleMs,
    clock,
    end: (key) => (ended.push(key), Promise.resolve()),
  });
  return { p, clock, ended };
}

Deno.test("identity pool: past the bound the least recently used idle entry is ended", () => {
  const { p, ended } = pool(2);
  p.acquire(peer("a"))();
  p.acquire(peer("b"))();
  p.acquire(peer("a"))(); // a is now the most recently used
  p.acquire(peer("c"))();
  assert.deepEqual(ended, ["b"]);
  assert.equal(p.size, 2);
});

Deno.test("identity pool: an entry with a call in flight is never evicted; all busy is refused naming the bound", () => {
  const { p, ended } = pool(2);
  const releaseA = p.acquire(peer("a"));
  p.acquire(peer("b"))();
  p.acquire(peer("c"))(); // b idle: evicted, not a
  assert.deepEqual(ended, ["b"]);
  const releaseC = p.acquire(peer("c"));
  assert.throws(() => p.acquire(peer("d")), (err: unknown) => {
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, -32603);
    assert.match(err.message, /sessionStorage\.maxLocalSessions/);
    return true;
  });
  releaseA();
  releaseC();
  p.acquire(peer("d"))();
  assert.deepEqual(ended, ["b", "a"]);
});

Deno.test("identity pool: entries idle past idleMs end at the sweep, busy ones stay", () => {
  const { p, clock, ended } = pool(10, 1000);
  p.acquire(peer("a"))();
  const releaseB = p.acquire(peer("b"));
  clock.advance(999);
  assert.equal(p.sweep(), 0);
  clock.advance(1);
  assert.equal(p.sweep(), 1);
  assert.deepEqual(ended, ["a"]);
  releaseB();
  clock.advance(1000);
  p.sweep();
  assert.deepEqual(ended, ["a", "b"]);
  assert.equal(p.size, 0);
});

Deno.test("identity pool: the owner adopts each caller's fresh token and keeps the first capabilities", () => {
  const { p } = pool(10);
  const owner = p.owner(peer("a", "old"));
  assert.equal(owner.identity.token, "old");
  p.acquire(peer("a", "new"))();
  assert.equal(owner.identity.token, "new");
  assert.equal(owner.connectionKey, "a");
  assert.equal(owner.listenIdentityKey, "i\u0000a");
  assert.deepEqual(owner.clientCapabilities(), { elicitation: {} });
});

Deno.test("identity pool: the owner refuses backend requests it cannot attribute", async () => {
  const { p } = pool(10);
  const owner = p.owner(peer("a"));
  await assert.rejects(
    owner.request({ method: "elicitation/create" }, { signal: new AbortController().signal }),
    /cannot be attributed to one request/,
  );
});

Deno.test("identity pool: close ends every entry", async () => {
  const { p, ended } = pool(10);
  p.acquire(peer("a"))();
  p.acquire(peer("b"));
  await p.close();
  assert.deepEqual(ended.sort(), ["a", "b"]);
  assert.equal(p.size, 0);
});

Deno.test("identity pool: a held entry (resource subscription) is neither expired nor evicted until released", () => {
  const { p, clock, ended } = pool(2, 1000);
  const release = p.hold(peer("a"));
  clock.advance(5000);
  assert.equal(p.sweep(), 0);
  p.acquire(peer("b"))();
  p.acquire(peer("c"))(); // full: b is evicted, never the held a
  assert.deepEqual(ended, ["b"]);
  release();
  release(); // idempotent
  clock.advance(999);
  assert.equal(p.sweep(), 0); // idle time counts from the release
  clock.advance(1);
  assert.equal(p.sweep(), 2); // a and c
  assert.deepEqual(ended.sort(), ["a", "b", "c"]);
});

Deno.test("identity pool: when every entry is held a new key is refused naming the bound", () => {
  const { p } = pool(1);
  const release = p.hold(peer("a"));
  assert.throws(() => p.acquire(peer("b")), /resource subscription.*maxLocalSessions/s);
  release();
  p.acquire(peer("b"))();
  assert.equal(p.size, 1);
});

/** A peer of identity `who` with its own capability set `capset`. */
function capsetPeer(who: string, capset: number): PooledPeer {
  return { ...peer(who), id: `${who}:${capset}`, connectionKey: `${who}:${capset}` };
}

Deno.test("identity pool: one identity's capability sets evict only its own entries; all busy is refused", () => {
  const { p, ended } = pool(100);
  p.acquire(peer("alice"))();
  const busy = [];
  for (let i = 0; i < MAX_CAPSETS_PER_IDENTITY; i++) busy.push(p.acquire(capsetPeer("mallory", i)));
  assert.throws(() => p.acquire(capsetPeer("mallory", 99)), (err: unknown) => {
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, -32603);
    assert.match(err.message, /capabilit/);
    return true;
  });
  for (const release of busy) release();
  p.acquire(capsetPeer("mallory", 99))();
  assert.deepEqual(ended, ["mallory:0"]); // her own least recently used, never alice's
  assert.equal(p.size, 1 + MAX_CAPSETS_PER_IDENTITY);
  p.acquire(capsetPeer("bob", 1))();
  assert.deepEqual(ended, ["mallory:0"]);
});

Deno.test("identity pool: rootsChanged ends only that identity's entries that declared roots; a busy one when next idle", () => {
  const { p, ended } = pool(10);
  const withCaps = (key: string, identityKey: string, caps: Record<string, unknown>) => ({
    ...peer(key),
    identityKey,
    clientCapabilities: () => caps,
  });
  p.acquire(withCaps("alice-roots", "alice", { roots: {} }))();
  p.acquire(withCaps("alice-plain", "alice", { elicitation: {} }))();
  p.acquire(withCaps("bob-roots", "bob", { roots: {} }))();
  const releaseBusy = p.acquire(withCaps("alice-busy", "alice", { roots: { listChanged: true } }));

  assert.equal(p.rootsChanged("alice"), 1);
  assert.deepEqual(ended, ["alice-roots"], "bob's and the rootless entry stay; the busy one waits");
  releaseBusy();
  assert.deepEqual(ended, ["alice-roots", "alice-busy"]);
  assert.equal(p.size, 2);
  assert.equal(p.rootsChanged("carol"), 0);
  assert.deepEqual(ended, ["alice-roots", "alice-busy"]);
});
