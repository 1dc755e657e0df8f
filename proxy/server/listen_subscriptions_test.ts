import assert from "node:assert/strict";
import { silentLogger } from "../../core/log.ts";
import type { PooledPeer } from "../backends/identity_pool.ts";
import { PooledResourceSubscriptions, type SubscribableBackend } from "./listen_subscriptions.ts";

function peer(identityKey: string): PooledPeer {
  return {
    id: `i:${identityKey}`,
    connectionKey: `i:${identityKey}`,
    identityKey,
    identity: { issuer: "i", subject: identityKey, claims: {}, token: "t" },
    clientCapabilities: () => ({}),
    request: () => Promise.reject(new Error("unused")),
    notify: () => Promise.resolve(),
  };
}

/** A backend that records what the sink asks of it (pure bookkeeping, no wire). */
function backend(opts: { modern?: boolean; shares?: boolean; failSubscribe?: boolean } = {}) {
  const log: string[] = [];
  let holds = 0;
  const b: SubscribableBackend = {
    name: "web",
    sharesConnection: opts.shares ?? false,
    isModern: () => Promise.resolve(opts.modern ?? false),
    holdIdentitySession: (p) => {
      holds++;
      log.push(`hold ${p.identityKey}`);
      return () => (holds--, log.push(`release ${p.identityKey}`));
    },
    subscribe: (p, uri) => {
      log.push(`subscribe ${(p as PooledPeer).identityKey} ${uri}`);
      return opts.failSubscribe ? Promise.reject(new Error("no such resource")) : Promise.resolve();
    },
    unsubscribe: (p, uri) => {
      log.push(`unsubscribe ${(p as PooledPeer).identityKey} ${uri}`);
      return Promise.resolve();
    },
  };
  return { b, log, holds: () => holds };
}

Deno.test("PooledResourceSubscriptions subscribes on the identity's held session and unsubscribes before releasing it", async () => {
  const { b, log, holds } = backend();
  const sink = new PooledResourceSubscriptions({ route: () => b, log: silentLogger });
  await sink.acquire("alice", "test://web/readme", peer("alice"));
  assert.deepEqual(log, ["hold alice", "subscribe alice test://web/readme"]);
  assert.equal(holds(), 1);
  assert.equal(sink.size, 1);
  sink.release("alice", "test://web/readme");
  sink.release("alice", "test://web/readme"); // already released: nothing more
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(log.slice(2), ["unsubscribe alice test://web/readme", "release alice"]);
  assert.equal(holds(), 0);
  assert.equal(sink.size, 0);
});

Deno.test("PooledResourceSubscriptions subscribes a modern backend for the identity's listen owner, without a held session", async () => {
  const modern = backend({ modern: true });
  const sink = new PooledResourceSubscriptions({ route: () => modern.b, log: silentLogger });
  const subscribed: unknown[] = [];
  modern.b.subscribe = (owner, uri) => (subscribed.push([owner.id, uri]), Promise.resolve());
  await sink.acquire("alice", "u", peer("alice"));
  assert.deepEqual(subscribed, [["listen\u0000alice", "u"]]);
  assert.equal(modern.holds(), 0);
  assert.equal(sink.size, 1);
});

Deno.test("PooledResourceSubscriptions refuses shared-connection legacy backends, foreign peers and failed subscribes", async () => {
  let sink: PooledResourceSubscriptions;
  const shared = backend({ shares: true });
  sink = new PooledResourceSubscriptions({ route: () => shared.b, log: silentLogger });
  await assert.rejects(sink.acquire("alice", "u", peer("alice")), /shares one connection/);

  const legacy = backend({ failSubscribe: true });
  sink = new PooledResourceSubscriptions({ route: () => legacy.b, log: silentLogger });
  await assert.rejects(sink.acquire("alice", "u", peer("bob")), /peer of its identity/);
  await assert.rejects(sink.acquire("alice", "u", undefined), /peer of its identity/);
  await assert.rejects(sink.acquire("alice", "u", peer("alice")), /no such resource/);
  assert.equal(legacy.holds(), 0); // the hold ended with the failed subscribe
  assert.equal(sink.size, 0);

  sink = new PooledResourceSubscriptions({
    route: (uri) => {
      throw new Error(`Unknown resource "${uri}"`);
    },
    log: silentLogger,
  });
  await assert.rejects(sink.acquire("alice", "nope://x", peer("alice")), /Unknown resource/);
});
