import assert from "node:assert/strict";
import { jsonTextOf, PageTextCache, withJsonText } from "./preserialized.ts";

Deno.test("a marked result keeps its fields, serializes as before and hands out its text; a copy does not", () => {
  const value = withJsonText({ tools: [{ name: "a" }] }, '{"tools":[{"name":"a"}]}');
  assert.deepEqual(Object.keys(value), ["tools"]);
  assert.equal(JSON.stringify(value), '{"tools":[{"name":"a"}]}');
  assert.equal(jsonTextOf(value), '{"tools":[{"name":"a"}]}');
  assert.equal(jsonTextOf({ ...value }), undefined);
  assert.equal(jsonTextOf(undefined), undefined);
});

Deno.test("list pages are serialized once per list version and cursor", () => {
  const cache = new PageTextCache();
  const v1 = [{ name: "a" }];
  const first = cache.mark(v1, undefined, { tools: v1 });
  assert.equal(jsonTextOf(first), JSON.stringify({ tools: v1 }));
  // The same list and cursor reuse the text (even for an equal-looking new page object).
  assert.equal(jsonTextOf(cache.mark(v1, undefined, { tools: [] })), JSON.stringify({ tools: v1 }));
  // A rebuilt list (new array) gets its own text.
  const v2 = [{ name: "a" }, { name: "b" }];
  assert.equal(jsonTextOf(cache.mark(v2, undefined, { tools: v2 })), JSON.stringify({ tools: v2 }));
  assert.equal(
    jsonTextOf(cache.mark(v2, "c1", { tools: [v2[1]] })),
    JSON.stringify({ tools: [v2[1]] }),
  );
});
