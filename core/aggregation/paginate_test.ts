import assert from "node:assert/strict";
import { InvalidCursorError, paginate } from "./paginate.ts";

const items = Array.from({ length: 25 }, (_, i) => ({ name: `t${String(i).padStart(2, "0")}` }));

Deno.test("paginate walks a list in pages with opaque base64url cursors", () => {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = paginate(items, cursor, 10);
    seen.push(...page.items.map((i) => i.name));
    cursor = page.nextCursor;
    if (cursor !== undefined) assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    pages++;
  } while (cursor !== undefined);
  assert.equal(pages, 3);
  assert.deepEqual(seen, items.map((i) => i.name));
});

Deno.test("paginate gives no nextCursor when everything fits", () => {
  assert.deepEqual(paginate(items, undefined, 25), { items });
  assert.deepEqual(paginate([], undefined, 5), { items: [] });
});

Deno.test("a keyset cursor neither repeats nor skips items that stayed when the list changes", () => {
  const first = paginate(items, undefined, 10);
  const changed = items.filter((i) => i.name !== "t03" && i.name !== "t12");
  const second = paginate(changed, first.nextCursor, 10);
  assert.equal(second.items[0]!.name, "t10");
  assert.equal(second.items.length, 10);
});

Deno.test("paginate rejects a cursor it did not produce with code -32602", () => {
  for (const bad of ["!!", "abc", btoa("{}"), btoa('{"k":1}').replace(/=+$/, ""), ""]) {
    assert.throws(() => paginate(items, bad, 10), (e: unknown) => {
      assert.ok(e instanceof InvalidCursorError);
      assert.equal(e.code, -32602);
      assert.match(e.message, /Invalid cursor/);
      return true;
    });
  }
});

Deno.test("paginate keys resources by uri and rejects a non-positive page size", () => {
  const res = [{ uri: "a://1" }, { uri: "a://2" }, { uri: "a://3" }];
  const p1 = paginate(res, undefined, 2);
  assert.deepEqual(paginate(res, p1.nextCursor, 2), { items: [{ uri: "a://3" }] });
  assert.throws(() => paginate(res, undefined, 0), RangeError);
});
