import assert from "node:assert/strict";
import { Bm25Index } from "./bm25.ts";

Deno.test("Bm25Index ranks rarer and more frequent terms higher, boosts fields, and forgets removed documents", () => {
  const idx = new Bm25Index();
  idx.add(0, [[["read", "file"], 3], [["read", "content", "file", "disk"], 1]]);
  idx.add(1, [[["write", "file"], 3], [["write", "content", "file"], 1]]);
  idx.add(2, [[["weather"], 3], [["forecast", "city"], 1]]);
  assert.equal(idx.size, 3);
  assert.deepEqual(idx.search(["read", "file"], 3).map((h) => h.id), [0, 1]);
  assert.deepEqual(idx.search(["weather"], 3).map((h) => h.id), [2]);
  // A name (boost 3) beats a description mention (boost 1).
  idx.add(3, [[["forecast"], 3], [["weather", "data"], 1]]);
  assert.deepEqual(idx.search(["forecast"], 1).map((h) => h.id), [3]);
  // keep, limit, and removal.
  assert.deepEqual(idx.search(["file"], 3, (id) => id !== 0).map((h) => h.id), [1]);
  assert.equal(idx.search(["file"], 1).length, 1);
  idx.remove(0);
  assert.deepEqual(idx.search(["read"], 3), []);
  assert.equal(idx.size, 3);
  // Replacing a document replaces its terms.
  idx.add(1, [[["sum"], 3]]);
  assert.deepEqual(idx.search(["write"], 3), []);
  assert.deepEqual(idx.search(["sum"], 3).map((h) => h.id), [1]);
  assert.throws(() => idx.add(-1, []), /Invalid document id "-1"/);
});

Deno.test("Bm25Index breaks score ties by id, so answers are deterministic", () => {
  const idx = new Bm25Index();
  for (const id of [5, 2, 9]) idx.add(id, [[["same"], 1]]);
  assert.deepEqual(idx.search(["same"], 3).map((h) => h.id), [2, 5, 9]);
});
