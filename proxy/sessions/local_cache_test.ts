import assert from "node:assert/strict";
import { type EvictReason, LocalSessionCache } from "./local_cache.ts";

function cache(max: number) {
  const evicted: [string, string, EvictReason][] = [];
  const c = new LocalSessionCache<string>({ max, onEvict: (id, v, r) => evicted.push([id, v, r]) });
  return { c, evicted };
}

Deno.test("the cache evicts the least recently used session past its bound", () => {
  const { c, evicted } = cache(2);
  c.set("a", "A");
  c.set("b", "B");
  assert.equal(c.get("a"), "A");
  c.set("c", "C");
  assert.deepEqual(evicted, [["b", "B", "capacity"]]);
  assert.deepEqual([...c.entries()].map(([k]) => k), ["a", "c"]);
});

Deno.test("peek does not change recency", () => {
  const { c, evicted } = cache(2);
  c.set("a", "A");
  c.set("b", "B");
  assert.equal(c.peek("a"), "A");
  c.set("c", "C");
  assert.deepEqual(evicted.map((e) => e[0]), ["a"]);
});

Deno.test("delete, replace and clear all report through the eviction callback", () => {
  const { c, evicted } = cache(10);
  c.set("a", "A");
  c.set("a", "A2");
  c.set("b", "B");
  assert.equal(c.delete("b"), "B");
  assert.equal(c.delete("b"), undefined);
  c.clear();
  assert.deepEqual(evicted, [["a", "A", "replaced"], ["b", "B", "delete"], ["a", "A2", "clear"]]);
  assert.equal(c.size, 0);
});

Deno.test("deleteIf leaves a successor under the same id alone", () => {
  const { c } = cache(10);
  c.set("a", "new");
  assert.equal(c.deleteIf("a", "old"), false);
  assert.equal(c.get("a"), "new");
  assert.equal(c.deleteIf("a", "new"), true);
});

Deno.test("a callback that throws or re-enters does not break the cache", () => {
  const c: LocalSessionCache<string> = new LocalSessionCache<string>({
    max: 1,
    onEvict: (id) => {
      c.delete(id);
      throw new Error("boom");
    },
  });
  c.set("a", "A");
  c.set("b", "B");
  assert.deepEqual([...c.entries()], [["b", "B"]]);
});

Deno.test("the default bound is 1000 and a bad bound is refused", () => {
  assert.equal(new LocalSessionCache().max, 1000);
  assert.throws(() => new LocalSessionCache({ max: 0 }), /max 0/);
});

Deno.test("past its bound the cache skips entries it may not evict and stays over the bound when none may go", () => {
  const busy = new Set(["a", "b", "c"]);
  const evicted: string[] = [];
  const c = new LocalSessionCache<string>({
    max: 2,
    onEvict: (id) => evicted.push(id),
    canEvict: (id) => !busy.has(id),
  });
  c.set("a", "A");
  c.set("b", "B");
  c.set("c", "C"); // a and b are busy (and the newest entry is never the victim)
  assert.deepEqual(evicted, []);
  assert.equal(c.size, 3);
  assert.equal(c.overBound, 1);
  busy.delete("b");
  c.set("d", "D"); // two over: only b may go
  assert.deepEqual(evicted, ["b"]);
  assert.equal(c.overBound, 1);
  busy.clear();
  c.set("e", "E");
  assert.deepEqual(evicted, ["b", "a", "c"]);
  assert.deepEqual([...c.entries()].map(([k]) => k), ["d", "e"]);
  assert.equal(c.evicted, 3);
});

Deno.test("get keeps recency exact when the same id is read again and again", () => {
  const evicted: string[] = [];
  const cache = new LocalSessionCache<number>({ max: 2, onEvict: (id) => evicted.push(id) });
  cache.set("a", 1);
  cache.set("b", 2);
  cache.get("a");
  cache.get("a"); // already the most recent: nothing to move
  cache.set("c", 3); // evicts b, the least recently used
  assert.deepEqual(evicted, ["b"]);
  cache.get("c");
  cache.get("a");
  cache.set("d", 4); // evicts c
  assert.deepEqual(evicted, ["b", "c"]);
  cache.delete("d");
  cache.get("a");
  cache.set("e", 5);
  cache.get("a");
  cache.set("f", 6); // evicts e (a was read after it)
  assert.deepEqual(evicted, ["b", "c", "d", "e"]);
  assert.deepEqual([...cache.entries()].map(([k]) => k), ["a", "f"]);
});
