/**
 * Guards of issue #15 over every user-written schema (each kind's spec and the proxy config):
 * every object rejects unknown fields unless it is deliberately free-form, and every duration
 * field states its allowed range.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { DURATION_PATTERN } from "../core/duration.ts";
import { KINDS } from "./kinds.ts";
import { VmcpConfigSchema } from "./vmcp_config.ts";
import { CompositeToolSpecSchema, StepErrorHandlingSchema } from "./composite_tool.ts";

type Node = Record<string, unknown>;

function walk(node: unknown, path: string, visit: (n: Node, p: string) => void): void {
  if (typeof node !== "object" || node === null) return;
  const n = node as Node;
  visit(n, path);
  for (const [k, v] of Object.entries((n.properties ?? {}) as Node)) walk(v, `${path}.${k}`, visit);
  if (n.items) walk(n.items, `${path}[]`, visit);
  if (typeof n.additionalProperties === "object") walk(n.additionalProperties, `${path}{}`, visit);
}

const USER_SCHEMAS: [string, z.ZodType][] = [
  ...KINDS.map((k) => [`${k.kind}.spec`, k.spec] as [string, z.ZodType]),
  ["config", VmcpConfigSchema],
];
const json = (s: z.ZodType) =>
  z.toJSONSchema(s, {
    target: "openapi-3.0",
    io: "input",
    reused: "inline",
    unrepresentable: "any",
  });

Deno.test("every object a user writes rejects unknown fields, except podTemplateSpec and free-form JSON", () => {
  const loose: string[] = [];
  for (const [name, schema] of USER_SCHEMAS) {
    walk(json(schema), name, (n, p) => {
      if (n.type === "object" && n.properties && n.additionalProperties !== false) loose.push(p);
    });
  }
  assert.deepEqual(loose, []);
});

Deno.test("every duration field states its allowed range in its description", () => {
  const unbounded: string[] = [];
  let seen = 0;
  for (const [name, schema] of USER_SCHEMAS) {
    walk(json(schema), name, (n, p) => {
      if (n.pattern !== DURATION_PATTERN) return;
      seen++;
      if (!/Allowed: .+ to .+\./.test(String(n.description))) unbounded.push(p);
    });
  }
  assert.ok(seen > 10, `found ${seen} duration fields`);
  assert.deepEqual(unbounded, []);
});

Deno.test("a mistyped composite step field is an error naming the key, not silently dropped", () => {
  const r = CompositeToolSpecSchema.safeParse({
    name: "wf",
    description: "d",
    steps: [{ id: "a", tool: "x" }, { id: "b", tool: "y", dependson: ["a"], conditon: "x" }],
  });
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues.map((i) => [i.code, i.path.join("."), i.message]), [
    ["unrecognized_keys", "steps.1", 'Unrecognized keys: "dependson", "conditon"'],
  ]);
});

Deno.test("the seed-era onError.maxRetries reads as retryCount; both together are an error", () => {
  assert.deepEqual(StepErrorHandlingSchema.parse({ action: "retry", maxRetries: 4 }), {
    action: "retry",
    retryCount: 4,
  });
  const both = StepErrorHandlingSchema.safeParse({ action: "retry", maxRetries: 4, retryCount: 2 });
  assert.equal(both.success, false);
  assert.deepEqual(both.error!.issues[0]!.path, ["maxRetries"]);
});
