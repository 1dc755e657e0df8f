import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { MemorySessionStore } from "./memory_store.ts";
import { SessionLimitError, type SessionRecord } from "./store.ts";

function record(id = "s1"): SessionRecord {
  return {
    id,
    identityKey: "unauthenticated",
    protocolVersion: "2025-11-25",
    clientInfo: { name: "c", version: "1" },
    clientCapabilities: {},
    backendSessions: { a: "a-1" },
    subscriptions: [],
    createdAt: 0,
    lastSeen: 0,
  };
}

Deno.test("memory sessions slide their TTL on every read and expire when idle", async () => {
  const clock = new ManualClock(1_000);
  const store = new MemorySessionStore({ ttlMs: 100, clock });
  await store.create(record("kept"));
  await store.create(record("idle"));
  for (let i = 0; i < 5; i++) {
    clock.advance(60);
    assert.equal((await store.get("kept") as SessionRecord).id, "kept");
  }
  assert.equal(await store.get("idle"), undefined);
  clock.advance(100);
  assert.equal(await store.get("kept"), undefined);
  assert.equal(store.size, 0, "expired entries are dropped");
});

Deno.test("memory touch slides the TTL and answers false for unknown and terminated sessions", async () => {
  const clock = new ManualClock();
  const store = new MemorySessionStore({ ttlMs: 100, clock });
  await store.create(record("s"));
  clock.advance(90);
  assert.equal(await store.touch("s"), true);
  await store.touchMany(["s", "nope"]);
  clock.advance(90);
  assert.ok(await store.get("s"));
  assert.equal(await store.touch("nope"), false);
  await store.terminate("s");
  assert.equal(await store.touch("s"), false);
});

Deno.test("a terminated memory session reads as terminated until the marker expires", async () => {
  const clock = new ManualClock();
  const store = new MemorySessionStore({ ttlMs: 100, clock });
  await store.create(record());
  await store.terminate("s1");
  assert.equal(await store.get("s1"), "terminated");
  assert.equal(await store.update("s1", { logLevel: "info" }), "terminated");
  clock.advance(100);
  assert.equal(await store.get("s1"), undefined);
});

Deno.test("memory records are copied in and frozen: nobody can change the stored record", async () => {
  const store = new MemorySessionStore();
  const rec = record();
  await store.create(rec);
  rec.subscriptions.push("mutated-after-create");
  const got = await store.get("s1") as SessionRecord;
  assert.throws(() => (got.backendSessions.x = "mutated-after-get"), TypeError);
  assert.throws(() => got.subscriptions.push("x"), TypeError);
  assert.deepEqual(await store.get("s1"), record());
  // An update stores a new record; the one answered before stays as it was.
  const next = await store.update("s1", { backendSessions: { b: "sid" } }) as SessionRecord;
  assert.deepEqual(next.backendSessions, { ...record().backendSessions, b: "sid" });
  assert.ok(Object.isFrozen(next.backendSessions));
  assert.deepEqual(got.backendSessions, record().backendSessions);
});

Deno.test("memory updates merge backend sessions, dedupe subscriptions and stamp lastSeen", async () => {
  const clock = new ManualClock(5);
  const store = new MemorySessionStore({ clock });
  await store.create(record());
  clock.advance(10);
  const next = await store.update("s1", (cur) => ({
    backendSessions: { b: "b-1", a: null },
    subscriptions: [...cur.subscriptions, "u", "u"],
  })) as SessionRecord;
  assert.deepEqual(next.backendSessions, { b: "b-1" });
  assert.deepEqual(next.subscriptions, ["u"]);
  assert.equal(next.lastSeen, 15);
  assert.equal(next.createdAt, 0);
  assert.equal(await store.update("nope", {}), undefined);
});

Deno.test("a non-positive memory TTL is refused with the value", () => {
  assert.throws(() => new MemorySessionStore({ ttlMs: 0 }), /ttl 0 ms/);
});

Deno.test("memory republish writes only missing sessions", async () => {
  const store = new MemorySessionStore();
  await store.create({ ...record("kept"), logLevel: "debug" });
  await store.terminate("ended");
  assert.equal(await store.republish([record("kept"), record("gone"), record("ended")]), 1);
  assert.equal((await store.get("kept") as SessionRecord).logLevel, "debug");
  assert.equal((await store.get("gone") as SessionRecord).id, "gone");
  assert.equal(await store.get("ended"), "terminated");
});

Deno.test("memory: maxSessions and maxSessionsPerIdentity refuse new records until one expires or is terminated; initTtl holds until the first sliding read", async () => {
  const clock = new ManualClock(1_000);
  const store = new MemorySessionStore({
    ttlMs: 1000,
    initTtlMs: 100,
    maxSessions: 3,
    maxSessionsPerIdentity: 2,
    clock,
  });
  const of = (id: string, identityKey: string) => ({ ...record(id), identityKey });
  await store.create(of("a1", "alice"));
  await store.create(of("a2", "alice"));
  await assert.rejects(
    store.create(of("a3", "alice")),
    (e: unknown) => e instanceof SessionLimitError && e.limit === "maxSessionsPerIdentity",
  );
  await store.create(of("a1", "alice")); // the same id again is not a new session
  await store.create(of("anon", "unauthenticated"));
  await assert.rejects(
    store.create(of("b1", "bob")),
    (e: unknown) => e instanceof SessionLimitError && e.limit === "maxSessions",
  );
  await store.terminate("a2");
  await store.create(of("b1", "bob"));
  // a1 is used (sliding read), the others only initialized: they go after initTtl.
  assert.ok(await store.get("a1"));
  assert.ok(await store.get("b1", { slide: false }));
  clock.advance(150);
  assert.ok(await store.get("a1"));
  assert.equal(await store.get("b1"), undefined);
  assert.equal(await store.get("anon"), undefined);
  await store.create(of("b2", "bob"));
  await store.create(of("b3", "bob"));
});
