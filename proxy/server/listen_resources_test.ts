import assert from "node:assert/strict";
import { silentLogger } from "../../core/log.ts";
import { ResourceRefs, type ResourceSubscriptionSink } from "./listen_resources.ts";

function recorder(acquire: ResourceSubscriptionSink["acquire"] = () => {}) {
  const calls: string[] = [];
  const sink: ResourceSubscriptionSink = {
    acquire: (k, uri, ctx) => {
      calls.push(`+${k} ${uri}`);
      return acquire(k, uri, ctx);
    },
    release: (k, uri) => void calls.push(`-${k} ${uri}`),
  };
  return { calls, refs: new ResourceRefs(sink, silentLogger, (k) => k) };
}

Deno.test("ResourceRefs asks the sink once per identity and uri and releases after the last share", async () => {
  const { calls, refs } = recorder();
  const a1 = refs.join("alice", "u", undefined);
  const a2 = refs.join("alice", "u", undefined);
  const b = refs.join("bob", "u", undefined);
  assert.deepEqual(await Promise.all([a1.ready, a2.ready, b.ready]), [true, true, true]);
  assert.deepEqual(calls, ["+alice u", "+bob u"]);
  a1.leave();
  a1.leave(); // idempotent
  assert.deepEqual(calls, ["+alice u", "+bob u"]);
  a2.leave();
  b.leave();
  assert.deepEqual(calls, ["+alice u", "+bob u", "-alice u", "-bob u"]);
  assert.equal(refs.size, 0);
});

Deno.test("ResourceRefs forgets a failed acquire (no release) so that the next stream asks again", async () => {
  let fail = true;
  const { calls, refs } = recorder(() => {
    if (fail) throw new Error("backend said no");
  });
  const first = refs.join("alice", "u", undefined);
  assert.equal(await first.ready, false);
  first.leave();
  assert.equal(refs.size, 0);
  fail = false;
  const second = refs.join("alice", "u", undefined);
  assert.equal(await second.ready, true);
  second.leave();
  assert.deepEqual(calls, ["+alice u", "+alice u", "-alice u"]);
});

Deno.test("ResourceRefs never lets a release overtake the acquire it undoes", async () => {
  const pending = Promise.withResolvers<void>();
  const { calls, refs } = recorder(() => pending.promise);
  const share = refs.join("alice", "u", undefined);
  share.leave(); // before the backend answered
  assert.deepEqual(calls, ["+alice u"]);
  pending.resolve();
  assert.equal(await share.ready, true);
  assert.deepEqual(calls, ["+alice u", "-alice u"]);
  assert.equal(refs.size, 0);
});
