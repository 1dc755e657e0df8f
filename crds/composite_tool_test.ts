import assert from "node:assert/strict";
import { z } from "zod";
import { CompositeToolDefinitionStatusSchema, CompositeToolSpecSchema } from "./composite_tool.ts";

function walk(
  schema: unknown,
  path: string,
  visit: (s: Record<string, unknown>, p: string) => void,
) {
  if (typeof schema !== "object" || schema === null) return;
  const s = schema as Record<string, unknown>;
  visit(s, path);
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) {
    walk(v, `${path}.${k}`, visit);
  }
  if (s.items) walk(s.items, `${path}[]`, visit);
  if (typeof s.additionalProperties === "object") walk(s.additionalProperties, `${path}{}`, visit);
}

Deno.test("every field of the composite tool schemas has a description", () => {
  for (const schema of [CompositeToolSpecSchema, CompositeToolDefinitionStatusSchema]) {
    const json = z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", reused: "inline" });
    const missing: string[] = [];
    walk(json, "spec", (s, p) => {
      // Named fields need descriptions; array items and map values are described by their field.
      if (!s.description && !/(\[\]|\{\})$/.test(p)) missing.push(p);
    });
    assert.deepEqual(missing, []);
  }
});

Deno.test("the JSON schema has no $ref and no unions of objects", () => {
  const text = JSON.stringify(
    z.toJSONSchema(CompositeToolSpecSchema, {
      target: "openapi-3.0",
      io: "input",
      reused: "inline",
    }),
  );
  assert.ok(!text.includes("$ref"));
  assert.ok(!text.includes("oneOf"));
  assert.ok(!text.includes("anyOf"));
});

Deno.test("parsing applies the documented defaults", () => {
  const spec = CompositeToolSpecSchema.parse({
    name: "t",
    description: "d",
    steps: [
      { id: "a", tool: "x", onError: {} },
      { id: "b", type: "elicitation", message: "m", onDecline: {} },
    ],
  });
  assert.equal(spec.timeout, "30m");
  assert.equal(spec.steps[0]!.type, "tool");
  assert.equal(spec.steps[0]!.onError!.action, "abort");
  assert.equal(spec.steps[1]!.onDecline!.action, "abort");
});

Deno.test("retryCount above 10 and bad durations are rejected by the schema", () => {
  const r = CompositeToolSpecSchema.safeParse({
    name: "t",
    description: "d",
    timeout: "ten minutes",
    steps: [{ id: "a", tool: "x", onError: { action: "retry", retryCount: 11 } }],
  });
  assert.ok(!r.success);
  const paths = r.error.issues.map((i) => i.path.join("."));
  assert.deepEqual(paths.sort(), ["steps.0.onError.retryCount", "timeout"]);
});
