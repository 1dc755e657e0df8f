import assert from "node:assert/strict";
import { truncateText } from "./truncate.ts";

Deno.test("long text is cut with a marker counting the UTF-8 bytes left out; short text is unchanged", () => {
  assert.equal(truncateText("abc", 5), "abc");
  assert.equal(truncateText("abcdefgh", 5), "abcde…(3 bytes truncated)");
  assert.equal(truncateText("ab€€", 2), "ab…(6 bytes truncated)");
  assert.equal(truncateText("a😀b", 2), "a…(5 bytes truncated)");
});
