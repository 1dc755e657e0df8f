import assert from "node:assert/strict";
import { aggregate } from "../../core/aggregation/mod.ts";
import { aggregation, backend } from "../../core/aggregation/testing.ts";
import { compileCompositeTool, type CompiledWorkflow } from "../../core/composite/mod.ts";
import { createLogger } from "../../core/log.ts";
import { VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import { compositeBackends } from "./backends.ts";
import { viewCatalogue } from "./catalogue.ts";
import { buildCompositeTools } from "./tools.ts";

const view = aggregate(
  [backend("alpha", ["echo", "list"]), backend("beta", ["echo"]), backend("gamma", ["scan"])],
  aggregation({
    conflictResolution: "priority",
    conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["alpha", "beta"] },
  }),
);

function compile(steps: unknown[]): CompiledWorkflow {
  const r = compileCompositeTool(
    { name: "wf", description: "test workflow", steps },
    viewCatalogue(view),
  );
  assert.ok(r.ok, JSON.stringify(r.problems));
  return r.workflow;
}

Deno.test("a composite tool depends on the backends of its tool steps, sorted and once each", () => {
  const wf = compile([
    { id: "a", tool: "scan" },
    { id: "b", tool: "echo" },
    { id: "c", tool: "alpha.list" },
  ]);
  assert.deepEqual(compositeBackends(wf), ["alpha", "gamma"]);
});

Deno.test("a step calling a conflict loser by backend.originalTool depends on that backend", () => {
  const wf = compile([{ id: "a", tool: "beta.echo" }]);
  assert.deepEqual(compositeBackends(wf), ["beta"]);
});

Deno.test("a forEach step depends on the backend of its inner tool", () => {
  const wf = compile([
    { id: "list", tool: "list" },
    {
      id: "each",
      type: "forEach",
      collection: "{{json .steps.list.output.items}}",
      step: { tool: "scan", arguments: { q: "{{.forEach.item}}" } },
    },
  ]);
  assert.deepEqual(compositeBackends(wf), ["alpha", "gamma"]);
});

Deno.test("elicitation steps depend on no backend", () => {
  assert.deepEqual(
    compositeBackends(compile([{ id: "ask", type: "elicitation", message: "ok?" }])),
    [],
  );
  const mixed = compile([
    { id: "ask", type: "elicitation", message: "ok?" },
    { id: "go", tool: "beta.echo", dependsOn: ["ask"] },
  ]);
  assert.deepEqual(compositeBackends(mixed), ["beta"]);
});

Deno.test("every served composite tool carries the backends its steps call", () => {
  const config = VmcpConfigSchema.parse({
    name: "t",
    groupRef: { name: "g" },
    backends: [],
    aggregation: aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["alpha", "beta"] },
    }),
    compositeTools: [
      {
        name: "two",
        description: "two backends",
        steps: [{ id: "a", tool: "beta.echo" }, { id: "b", tool: "scan" }],
      },
      {
        name: "ask",
        description: "no backend",
        steps: [{ id: "q", type: "elicitation", message: "ok?" }],
      },
    ],
  });
  const built = buildCompositeTools(config, view, createLogger({ sink: () => {} }));
  assert.deepEqual(built.problems, []);
  assert.deepEqual(built.tools.get("two")!.backends, ["beta", "gamma"]);
  assert.deepEqual(built.tools.get("ask")!.backends, []);
});
