import assert from "node:assert/strict";
import { aggregate } from "../../core/aggregation/mod.ts";
import { aggregation, backend, tool } from "../../core/aggregation/testing.ts";
import { createLogger } from "../../core/log.ts";
import { VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import type { ExtraTool } from "../router_state.ts";
import { callRefFor } from "./catalogue.ts";
import { CompositeToolRegistry } from "./registry.ts";
import { buildCompositeTools } from "./tools.ts";

const cfg = (compositeTools: unknown[], agg?: unknown) =>
  VmcpConfigSchema.parse({
    name: "t",
    groupRef: { name: "g" },
    backends: [],
    compositeTools,
    ...(agg ? { aggregation: agg } : {}),
  });

const flow = (name: string, tool: string) => ({
  name,
  description: `${name} workflow`,
  steps: [{ id: "only", tool }],
});

function recordingLog() {
  const lines: { msg: string; path?: string }[] = [];
  const log = createLogger({ level: "debug", sink: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

Deno.test("the registry serves a composite tool only while its step tools exist, and logs problems once", () => {
  const { log, lines } = recordingLog();
  const registry = new CompositeToolRegistry(log);
  const target = new Map<string, ExtraTool>();
  const config = cfg([flow("wf", "beta.search")]);
  const without = aggregate([backend("alpha", ["echo"])], aggregation());
  const withBeta = aggregate(
    [backend("alpha", ["echo"]), backend("beta", ["search"])],
    aggregation(),
  );

  assert.equal(registry.sync(config, without, target), false);
  assert.equal(target.size, 0);
  assert.deepEqual(registry.problems.map((p) => p.path), ["compositeTools[0].steps[0].tool"]);
  registry.sync(config, without, target); // same problem again: not logged twice
  assert.equal(lines.filter((l) => l.msg === "composite tool not served").length, 1);

  assert.equal(registry.sync(config, withBeta, target), true);
  assert.deepEqual([...target.keys()], ["wf"]);
  assert.deepEqual(registry.problems, []);

  assert.equal(registry.sync(config, without, target), true);
  assert.equal(target.size, 0);
});

Deno.test("the registry never replaces an extra tool it did not add", () => {
  const registry = new CompositeToolRegistry(createLogger({ sink: () => {} }));
  const other: ExtraTool = {
    tool: { name: "wf", inputSchema: { type: "object" } },
    handler: () => Promise.resolve({ content: [] }),
  };
  const target = new Map([["wf", other]]);
  const view = aggregate([backend("alpha", ["echo"])], aggregation());
  registry.sync(cfg([flow("wf", "alpha_echo")]), view, target);
  assert.equal(target.get("wf"), other);
  assert.match(registry.problems[0]!.message, /already served by the proxy itself/);
});

Deno.test("a conflict loser is called by backend.originalTool, a winner by its advertised name", () => {
  const view = aggregate(
    [backend("alpha", ["echo"]), backend("beta", ["echo"])],
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["alpha", "beta"] },
    }),
  );
  assert.equal(callRefFor(view, view.toolsByBackend.get("alpha")!.get("echo")!), "echo");
  assert.equal(callRefFor(view, view.toolsByBackend.get("beta")!.get("echo")!), "beta.echo");
});

Deno.test("composite annotations are derived from the step tools and explicit values merge over them", () => {
  const safe = { readOnlyHint: true, destructiveHint: false, openWorldHint: false };
  const caps = backend("alpha", ["list"]);
  caps.tools = [tool("list", "alpha", { annotations: safe }), tool("write", "alpha")];
  const view = aggregate([caps], aggregation());
  const config = cfg([
    { ...flow("reader", "alpha_list"), annotations: { title: "Reader", idempotentHint: true } },
    { ...flow("writer", "alpha_write"), annotations: { destructiveHint: false } },
  ]);
  const built = buildCompositeTools(config, view, createLogger({ sink: () => {} }));
  assert.deepEqual(built.tools.get("reader")!.tool.annotations, {
    ...safe,
    title: "Reader",
    idempotentHint: true,
  });
  assert.equal(built.tools.has("writer"), false);
  assert.deepEqual(built.problems.map((p) => p.path), [
    "compositeTools[1].annotations.destructiveHint",
  ]);
});
