import assert from "node:assert/strict";
import { analyze, splitWords, stem } from "./tokenize.ts";

Deno.test("splitWords() splits snake_case, kebab-case, camelCase, acronyms and digits", () => {
  assert.deepEqual(splitWords("read_text_file"), ["read", "text", "file"]);
  assert.deepEqual(splitWords("get-tiny-image"), ["get", "tiny", "image"]);
  assert.deepEqual(splitWords("listFiles HTTPServer list2Files"), [
    "list",
    "Files",
    "HTTP",
    "Server",
    "list",
    "2",
    "Files",
  ]);
  assert.deepEqual(splitWords("API-post-search: Notion | Search"), [
    "API",
    "post",
    "search",
    "Notion",
    "Search",
  ]);
});

Deno.test("stem() brings plural, -ing, -ed and -e forms together", () => {
  assert.equal(stem("files"), stem("file"));
  assert.equal(stem("creating"), stem("create"));
  assert.equal(stem("created"), stem("create"));
  assert.equal(stem("directories"), stem("directory"));
  assert.equal(stem("status"), "status");
});

Deno.test("analyze() drops stop words, lower-cases and adds the concept of common words", () => {
  assert.deepEqual(analyze("Remove the Files"), ["remov", "~delete", "fil", "~file"]);
  // "delete" and "remove" meet on their concept; unrelated words do not.
  const a = new Set(analyze("delete a folder"));
  assert.ok(analyze("remove directory").every((t) => t.startsWith("~") ? a.has(t) : true));
  assert.deepEqual(analyze("weather", false), ["weather"]);
  assert.deepEqual(analyze("please use the tool"), []);
});
