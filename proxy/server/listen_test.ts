import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { SseReader } from "../../tests/harness/sse_reader.ts";
import { silentLogger } from "../../core/log.ts";
import {
  SubscriptionsAcknowledgedNotificationSchemaV2,
  SubscriptionsListenResultSchemaV2,
} from "../../core/sdk.ts";
import {
  type ListenCapabilities,
  ListenHub,
  type ListenHubOptions,
  MAX_URIS_PER_STREAM,
  SUBSCRIPTION_ID_META_KEY,
} from "./listen.ts";

const ALL: ListenCapabilities = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
};
function hub(opts: Partial<ListenHubOptions> = {}): ListenHub {
  return new ListenHub({ log: silentLogger, capabilities: () => ALL, heartbeatMs: 0, ...opts });
}

function listen(
  h: ListenHub,
  id: string | number,
  notifications: unknown,
  identityKey = "alice",
  signal = new AbortController().signal,
) {
  return h.open({ id, params: { notifications } }, identityKey, signal);
}

const params = (m: Record<string, unknown>) => m.params as Record<string, unknown>;
const subId = (m: Record<string, unknown>) =>
  (params(m)._meta as Record<string, unknown>)[SUBSCRIPTION_ID_META_KEY];

Deno.test("ListenHub.open acknowledges first with the honoured filter and the listen id as subscription id", async () => {
  const h = hub({ capabilities: () => ({ tools: { listChanged: true } }) });
  const res = listen(h, "L-1", { toolsListChanged: true, promptsListChanged: true });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const r = new SseReader(res);
  const ack = await r.message();
  assert.equal(ack.method, "notifications/subscriptions/acknowledged");
  assert.deepEqual(params(ack).notifications, { toolsListChanged: true });
  assert.equal(subId(ack), "L-1");
  SubscriptionsAcknowledgedNotificationSchemaV2.parse(ack); // the v2 SDK's wire shape
  assert.equal(h.size, 1);
  await r.cancel();
  assert.equal(h.size, 0);
});

Deno.test("ListenHub.publish sends only the kinds the stream asked for, each stamped with its subscription id", async () => {
  const h = hub();
  const tools = new SseReader(listen(h, 7, { toolsListChanged: true }));
  const prompts = new SseReader(
    listen(h, 8, { promptsListChanged: true, toolsListChanged: false }),
  );
  await tools.message();
  assert.deepEqual(params(await prompts.message()).notifications, { promptsListChanged: true });
  h.publish({ method: "notifications/prompts/list_changed" });
  h.publish({ method: "notifications/tools/list_changed" });
  h.publish({ method: "notifications/message", params: { level: "info", data: "not a change" } });
  h.publish({ method: "notifications/resources/list_changed" });
  const t = await tools.message();
  assert.equal(t.method, "notifications/tools/list_changed");
  assert.equal(subId(t), 7);
  const p = await prompts.message();
  assert.equal(p.method, "notifications/prompts/list_changed");
  assert.equal(subId(p), 8);
  // Nothing else was queued for either stream: the next frame of each is the graceful end.
  h.close();
  for (const [r, id] of [[tools, 7], [prompts, 8]] as const) {
    const end = await r.message();
    assert.deepEqual(end, {
      jsonrpc: "2.0",
      id,
      result: { resultType: "complete", _meta: { [SUBSCRIPTION_ID_META_KEY]: id } },
    });
    assert.equal(await r.next(), undefined);
  }
  assert.equal(h.size, 0);
});

Deno.test("ListenHub.open with nothing it can honour acknowledges an empty filter and ends the stream", async () => {
  const h = hub({ capabilities: () => ({}) });
  const r = new SseReader(
    listen(h, 1, { toolsListChanged: true, resourceSubscriptions: ["a://x"] }),
  );
  assert.deepEqual(params(await r.message()).notifications, {});
  assert.equal(((await r.message()).result as Record<string, unknown>).resultType, "complete");
  assert.equal(await r.next(), undefined);
  assert.equal(h.size, 0);
});

Deno.test("ListenHub.open refuses a bad filter with -32602 naming the field, value and what is allowed", async () => {
  const h = hub();
  const cases: [unknown, RegExp][] = [
    [undefined, /params\.notifications is required and must be an object.*got undefined/],
    [
      { toolsListChanged: "yes" },
      /params\.notifications\.toolsListChanged must be a boolean; got "yes"/,
    ],
    [
      { resourceSubscriptions: "a://x" },
      /resourceSubscriptions must be an array of URI strings; got "a:\/\/x"/,
    ],
    [
      { resourceSubscriptions: ["a://x", 3] },
      /resourceSubscriptions\[1\] must be a non-empty string.*got 3/,
    ],
    [
      {
        resourceSubscriptions: Array.from(
          { length: MAX_URIS_PER_STREAM + 1 },
          (_, i) => `a://${i}`,
        ),
      },
      new RegExp(`names ${MAX_URIS_PER_STREAM + 1} URIs; at most ${MAX_URIS_PER_STREAM}`),
    ],
  ];
  for (const [filter, message] of cases) {
    const res = listen(h, "bad", filter);
    assert.equal(res.headers.get("content-type"), "application/json");
    const body = await res.json();
    assert.equal(body.id, "bad");
    assert.equal(body.error.code, -32602);
    assert.match(body.error.message, /^Invalid params: /);
    assert.match(body.error.message, message);
  }
  assert.equal(h.size, 0);
});

Deno.test("ListenHub.open refuses past maxPerIdentity and maxStreams with -32603 and frees a slot when a stream ends", async () => {
  const h = hub({ maxStreams: 3, maxPerIdentity: 2 });
  const filter = { toolsListChanged: true };
  const a1 = new AbortController();
  const open = [
    listen(h, 1, filter, "alice", a1.signal),
    listen(h, 2, filter, "alice"),
  ].map((r) => new SseReader(r));
  const third = await listen(h, 3, filter, "alice").json();
  assert.deepEqual(third, {
    jsonrpc: "2.0",
    id: 3,
    error: {
      code: -32603,
      message: "Subscription limit reached",
      data: { limit: "maxPerIdentity", max: 2 },
    },
  });
  open.push(new SseReader(listen(h, 4, filter, "bob")));
  const full = await listen(h, 5, filter, "carol").json();
  assert.equal(full.error.code, -32603);
  assert.equal(full.error.message, "Subscription limit reached");
  assert.deepEqual(full.error.data, { limit: "maxStreams", max: 3 });
  assert.equal(h.size, 3);
  a1.abort();
  assert.equal(h.size, 2);
  const again = listen(h, 6, filter, "alice");
  assert.equal(again.headers.get("content-type"), "text/event-stream");
  open.push(new SseReader(again));
  for (const r of open) await r.cancel();
  assert.equal(h.size, 0);
});

Deno.test("ListenHub streams end when the client aborts, and the body then finishes", async () => {
  const h = hub();
  const abort = new AbortController();
  const r = new SseReader(listen(h, 1, { toolsListChanged: true }, "alice", abort.signal));
  await r.message();
  abort.abort();
  assert.equal(h.size, 0);
  assert.equal(await r.next(), undefined);
  h.publish({ method: "notifications/tools/list_changed" }); // nothing to deliver to
  const already = new AbortController();
  already.abort();
  const late = new SseReader(listen(h, 2, { toolsListChanged: true }, "alice", already.signal));
  assert.equal(await late.next(), undefined);
  assert.equal(h.size, 0);
});

Deno.test("ListenHub sends a heartbeat comment each heartbeatMs of the injected clock", async () => {
  const clock = new ManualClock();
  const h = hub({ clock, heartbeatMs: 5_000 });
  const r = new SseReader(listen(h, 1, { toolsListChanged: true }));
  await r.message();
  clock.advance(5_000);
  assert.deepEqual(await r.next(), { comment: "ping" });
  clock.advance(5_000);
  assert.deepEqual(await r.next(), { comment: "ping" });
  await r.cancel();
  assert.equal(h.size, 0);
});

Deno.test("ListenHub delivers resources/updated only to streams of the target identity that named the URI", async () => {
  const calls: string[] = [];
  const h = hub();
  // Without the backend side wired, resource subscriptions are not acknowledged.
  const before = new SseReader(listen(h, 0, { resourceSubscriptions: ["file:///a"] }));
  assert.deepEqual(params(await before.message()).notifications, {});
  h.setResourceSubscriptions({
    acquire: (k, uri) => void calls.push(`+${k} ${uri}`),
    release: (k, uri) => void calls.push(`-${k} ${uri}`),
  });
  const filterA = { resourceSubscriptions: ["file:///a", "file:///a"] };
  const alice1 = new SseReader(listen(h, "a1", filterA, "alice"));
  const alice2 = new SseReader(listen(h, "a2", { resourceSubscriptions: ["file:///b"] }, "alice"));
  const bob = new SseReader(listen(h, "b1", filterA, "bob"));
  assert.deepEqual(params(await alice1.message()).notifications, {
    resourceSubscriptions: ["file:///a"],
  });
  await alice2.message();
  await bob.message();
  assert.deepEqual(calls, ["+alice file:///a", "+alice file:///b", "+bob file:///a"]);
  const updated = (uri: string) => ({ method: "notifications/resources/updated", params: { uri } });
  h.publish(updated("file:///a")); // no identity: dropped
  h.publish(updated("file:///a"), { identityKey: "alice" });
  const got = await alice1.message();
  assert.equal(got.method, "notifications/resources/updated");
  assert.equal(params(got).uri, "file:///a");
  assert.equal(subId(got), "a1");
  h.publish(updated("file:///b"), { identityKey: "bob" }); // bob did not name b
  h.publish(updated("file:///b"), { identityKey: "alice" });
  assert.equal(params(await alice2.message()).uri, "file:///b");
  h.publish(updated("file:///a"), { identityKey: "bob" });
  assert.equal(subId(await bob.message()), "b1"); // bob's first update is his own
  await alice1.cancel();
  await alice2.cancel();
  await bob.cancel();
  assert.deepEqual(calls.slice(3), ["-alice file:///a", "-alice file:///b", "-bob file:///a"]);
  assert.equal(h.size, 0);
});

Deno.test("ListenHub acknowledges only the URIs the backend side subscribed to, after it answered", async () => {
  const h = hub();
  const calls: string[] = [];
  const pending = Promise.withResolvers<void>();
  h.setResourceSubscriptions({
    acquire: (k, uri, context) => {
      calls.push(`+${k} ${uri} ${context}`);
      if (uri === "file:///gone") throw new Error("no backend serves file:///gone");
      if (uri === "file:///slow") return pending.promise;
    },
    release: (k, uri) => void calls.push(`-${k} ${uri}`),
  });
  const filter = {
    toolsListChanged: true,
    resourceSubscriptions: ["file:///slow", "file:///gone", "file:///a"],
  };
  const r = new SseReader(
    h.open(
      { id: 1, params: { notifications: filter } },
      "alice",
      new AbortController().signal,
      "peer-1",
    ),
  );
  // Published before the backend side answered: delivered after the acknowledgement.
  h.publish({ method: "notifications/tools/list_changed" });
  h.publish({ method: "notifications/resources/updated", params: { uri: "file:///gone" } }, {
    identityKey: "alice",
  });
  pending.resolve();
  const ack = await r.message();
  assert.equal(ack.method, "notifications/subscriptions/acknowledged");
  assert.deepEqual(params(ack).notifications, {
    toolsListChanged: true,
    resourceSubscriptions: ["file:///slow", "file:///a"],
  });
  assert.equal((await r.message()).method, "notifications/tools/list_changed");
  h.publish({ method: "notifications/resources/updated", params: { uri: "file:///gone" } }, {
    identityKey: "alice",
  });
  h.publish({ method: "notifications/resources/updated", params: { uri: "file:///a" } }, {
    identityKey: "alice",
  });
  assert.equal(params(await r.message()).uri, "file:///a");
  assert.equal(h.resourceSubscriptions, 2);
  await r.cancel();
  assert.equal(h.resourceSubscriptions, 0);
  assert.deepEqual(calls.sort(), [
    "+alice file:///a peer-1",
    "+alice file:///gone peer-1",
    "+alice file:///slow peer-1",
    "-alice file:///a",
    "-alice file:///slow",
  ]);
});

Deno.test("ListenHub releases a resource subscription only after its acquire finished, even when the stream ended first", async () => {
  const h = hub();
  const calls: string[] = [];
  const pending = Promise.withResolvers<void>();
  h.setResourceSubscriptions({
    acquire: (_k, uri) => {
      calls.push(`+${uri}`);
      return pending.promise;
    },
    release: (_k, uri) => void calls.push(`-${uri}`),
  });
  const abort = new AbortController();
  const r = new SseReader(
    listen(h, 1, { resourceSubscriptions: ["file:///a"] }, "alice", abort.signal),
  );
  abort.abort();
  assert.equal(h.size, 0);
  // A second stream of the same identity joins the subscription still being made.
  const again = new SseReader(listen(h, 2, { resourceSubscriptions: ["file:///a"] }, "alice"));
  assert.deepEqual(calls, ["+file:///a"]);
  pending.resolve();
  assert.deepEqual(params(await again.message()).notifications, {
    resourceSubscriptions: ["file:///a"],
  });
  assert.deepEqual(calls, ["+file:///a"]); // still held by the second stream
  await again.cancel();
  assert.deepEqual(calls, ["+file:///a", "-file:///a"]);
  assert.equal(await r.next(), undefined);
  assert.equal(h.resourceSubscriptions, 0);
});

Deno.test("ListenHub ends the stream of a client that stops reading instead of buffering without bound", () => {
  const h = hub();
  const res = listen(h, 1, { toolsListChanged: true });
  const big = { _meta: { note: "x".repeat(200_000) } };
  for (let i = 0; i < 10 && h.size > 0; i++) {
    h.publish({ method: "notifications/tools/list_changed", params: big });
  }
  assert.equal(h.size, 0);
  return res.body!.cancel();
});

Deno.test("ListenHub.close ends every stream gracefully and refuses new ones", async () => {
  const h = hub({ serverInfo: { name: "vmcp", version: "1.0.0" } });
  const r = new SseReader(listen(h, 9, { toolsListChanged: true }));
  await r.message();
  h.close();
  const end = await r.message();
  assert.deepEqual((end.result as Record<string, unknown>)._meta, {
    [SUBSCRIPTION_ID_META_KEY]: 9,
    "io.modelcontextprotocol/serverInfo": { name: "vmcp", version: "1.0.0" },
  });
  SubscriptionsListenResultSchemaV2.parse(end.result);
  assert.equal(await r.next(), undefined);
  const refused = await listen(h, 10, { toolsListChanged: true }).json();
  assert.equal(refused.error.code, -32603);
  assert.match(refused.error.message, /shutting down/);
  assert.equal(h.size, 0);
});

Deno.test("ListenHub rejects limits that are not positive integers", () => {
  assert.throws(() => hub({ maxPerIdentity: 0 }), /maxPerIdentity must be an integer >= 1; got 0/);
  assert.throws(() => hub({ maxStreams: 1.5 }), /maxStreams must be an integer >= 1; got 1.5/);
});
