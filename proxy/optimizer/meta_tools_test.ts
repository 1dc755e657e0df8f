import assert from "node:assert/strict";
import type { Tool } from "../../core/sdk.ts";
import { silentLogger } from "../../core/log.ts";
import type { AnyObject } from "../backends/connection.ts";
import { OptimizerTools } from "./meta_tools.ts";
import { ToolSearch } from "./tool_search.ts";

const TOOLS: Tool[] = [
  { name: "fs_read_file", description: "Read a file", inputSchema: { type: "object" } },
  { name: "fs_delete_file", description: "Delete a file", inputSchema: { type: "object" } },
];

function optimizer() {
  return new OptimizerTools(
    new ToolSearch(
      { maxToolsToReturn: 8, hybridSearchSemanticRatio: 0.5, semanticDistanceThreshold: 1 },
      { log: silentLogger },
    ),
  );
}

Deno.test("OptimizerTools: find_tool searches only what the caller may see; call_tool is a plain call with _meta kept", async () => {
  const o = optimizer();
  const plain: AnyObject[] = [];
  const hooks = (visible: Tool[]) => ({
    all: TOOLS,
    visible: () => Promise.resolve(visible),
    callPlain: (p: AnyObject) => {
      plain.push(p);
      return Promise.resolve({ content: [] });
    },
  });
  const signal = new AbortController().signal;
  const found = async (visible: Tool[]) => {
    const r = await o.call(
      { name: "find_tool", arguments: { tool_description: "remove a file" } },
      signal,
      hooks(visible),
    );
    return JSON.parse((r.content as { text: string }[])[0]!.text).tools.map((t: Tool) => t.name);
  };
  assert.equal((await found(TOOLS))[0], "fs_delete_file");
  assert.ok(!(await found([TOOLS[0]!])).includes("fs_delete_file"));
  // A caller whose view (capability set) defines a tool otherwise gets that definition.
  const theirs: Tool = { ...TOOLS[1]!, inputSchema: { type: "object", required: ["path"] } };
  const r = await o.call(
    { name: "find_tool", arguments: { tool_description: "remove a file" } },
    signal,
    hooks([TOOLS[0]!, theirs]),
  );
  const answered = JSON.parse((r.content as { text: string }[])[0]!.text).tools;
  assert.deepEqual(answered[0].inputSchema, theirs.inputSchema);
  await o.call(
    {
      name: "call_tool",
      arguments: { tool_name: "fs_read_file", parameters: { path: "/x" } },
      _meta: { progressToken: 7 },
    },
    signal,
    hooks(TOOLS),
  );
  assert.deepEqual(plain, [{
    name: "fs_read_file",
    arguments: { path: "/x" },
    _meta: { progressToken: 7 },
  }]);
  await assert.rejects(
    o.call({ name: "fs_read_file", arguments: {} }, signal, hooks(TOOLS)),
    /Unknown tool "fs_read_file"/,
  );
  assert.deepEqual(o.tools.map((t) => t.name), ["call_tool", "find_tool"]);
});
