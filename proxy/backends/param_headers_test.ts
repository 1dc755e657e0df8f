import assert from "node:assert/strict";
import { paramHeaders, scanParamHeaders } from "./param_headers.ts";

Deno.test("scanParamHeaders: declarations on a properties chain, primitive types only", () => {
  const schema = {
    type: "object",
    properties: {
      region: { type: "string", "x-mcp-header": "Region" },
      opts: {
        type: "object",
        properties: { dry: { type: "boolean", "x-mcp-header": "Dry-Run" } },
      },
      list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } },
      obj: { type: "object", "x-mcp-header": "Obj" },
      bad: { type: "string", "x-mcp-header": "has space" },
    },
  };
  assert.deepEqual(scanParamHeaders(schema), [
    { path: ["region"], name: "Region" },
    { path: ["opts", "dry"], name: "Dry-Run" },
  ]);
  assert.deepEqual(scanParamHeaders(undefined), []);
});

Deno.test("paramHeaders: values from the arguments, encoded; absent values omitted", () => {
  const decls = [
    { path: ["region"], name: "Region" },
    { path: ["opts", "dry"], name: "Dry-Run" },
    { path: ["n"], name: "N" },
    { path: ["missing"], name: "Missing" },
  ];
  assert.deepEqual(paramHeaders(decls, { region: "Zürich", opts: { dry: true }, n: 42 }), {
    "mcp-param-region": `=?base64?${
      btoa(String.fromCharCode(...new TextEncoder().encode("Zürich")))
    }?=`,
    "mcp-param-dry-run": "true",
    "mcp-param-n": "42",
  });
});
