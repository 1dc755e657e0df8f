import assert from "node:assert/strict";
import { applyIfChanged, isSubset, upToDate, withAppliedHash } from "./apply.ts";
import type { KubeObject } from "./runtime/kube.ts";

const desired: KubeObject = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "n", labels: { a: "1" } },
  data: { k: "v" },
};

/** What the API server returns for `desired`: defaults and bookkeeping added. */
function live(obj: KubeObject): KubeObject {
  return {
    ...structuredClone(obj),
    metadata: { ...structuredClone(obj.metadata), uid: "u", resourceVersion: "7" },
  };
}

Deno.test("isSubset() accepts extra live fields but not different values or list lengths", () => {
  assert.ok(isSubset({ a: { b: 1 } }, { a: { b: 1, c: 2 }, d: 3 }));
  assert.ok(!isSubset({ a: { b: 1 } }, { a: { b: 2 } }));
  assert.ok(isSubset({ l: [{ n: "x" }] }, { l: [{ n: "x", extra: true }] }));
  assert.ok(!isSubset({ l: [{ n: "x" }] }, { l: [{ n: "x" }, { n: "y" }] }));
});

Deno.test("upToDate() detects drift and fields removed from the desired state", () => {
  const applied = live(withAppliedHash(desired));
  assert.ok(upToDate(withAppliedHash(desired), applied));
  const drifted = structuredClone(applied) as KubeObject & { data: Record<string, string> };
  drifted.data.k = "changed by someone";
  assert.ok(!upToDate(withAppliedHash(desired), drifted));
  const fewerLabels = { ...desired, metadata: { ...desired.metadata, labels: {} } };
  assert.ok(!upToDate(withAppliedHash(fewerLabels), applied), "a removed label changes the hash");
});

Deno.test("applyIfChanged() sends nothing when the live object matches and applies with the controller's field manager otherwise", async () => {
  const calls: { fieldManager: string; force?: boolean }[] = [];
  const kube = {
    apply<T extends KubeObject>(obj: T, opts: { fieldManager: string; force?: boolean }) {
      calls.push(opts);
      return Promise.resolve(live(obj) as T);
    },
  };
  const first = await applyIfChanged(kube, desired, undefined);
  assert.equal(first.changed, true);
  const second = await applyIfChanged(kube, desired, first.object);
  assert.equal(second.changed, false);
  assert.deepEqual(calls, [{ fieldManager: "vmcp-controller", force: true }]);
});
