import assert from "node:assert/strict";
import { rawPath } from "./http.ts";

Deno.test("rawPath: the path as written, without query or fragment", () => {
  assert.equal(rawPath("http://127.0.0.1:4483/mcp"), "/mcp");
  assert.equal(rawPath("http://127.0.0.1:4483/mcp?x=1#f"), "/mcp");
  assert.equal(rawPath("http://h/mcp#f?x"), "/mcp");
  assert.equal(rawPath("http://[::1]:4483/a/b"), "/a/b");
  assert.equal(rawPath("http://h"), "/");
  assert.equal(rawPath("http://h?q"), "/");
  assert.equal(rawPath("http://h?/mcp"), "/");
  assert.equal(rawPath("http://h#/mcp"), "/");
  // Not normalized here: the handler sends such paths through the URL parser.
  assert.equal(rawPath("http://h/mcp/../mcp"), "/mcp/../mcp");
  assert.equal(rawPath("http://h/%6dcp"), "/%6dcp");
  for (
    const u of [
      "http://h/mcp",
      "http://h/x/y?z",
      "http://h:1/",
      "http://u@h/p?q#r",
      "http://h?/mcp",
    ]
  ) {
    assert.equal(rawPath(u), new URL(u).pathname, u);
  }
});
