import assert from "node:assert/strict";
import { z } from "zod";
import { structural, toStructural } from "./to_crd.ts";

Deno.test("structural() turns string|number unions into int-or-string", () => {
  assert.deepEqual(
    structural({ anyOf: [{ type: "string" }, { type: "integer" }], description: "d" }),
    {
      description: "d",
      "x-kubernetes-int-or-string": true,
    },
  );
});

Deno.test("structural() keeps free-form maps open and drops additionalProperties:false", () => {
  const s = toStructural(
    z.strictObject({ a: z.record(z.string(), z.unknown()).describe("m"), b: z.string() }),
  );
  const props = s.properties as Record<string, Record<string, unknown>>;
  assert.equal(s.additionalProperties, undefined);
  assert.equal(props.a!["x-kubernetes-preserve-unknown-fields"], true);
  assert.equal(props.a!.additionalProperties, undefined);
});

Deno.test("structural() makes opaque unions preserve unknown fields and const an enum", () => {
  const s = toStructural(
    z.object({ u: z.union([z.object({ x: z.string() }), z.array(z.string())]), c: z.literal("k") }),
  );
  const props = s.properties as Record<string, Record<string, unknown>>;
  assert.equal(props.u!["x-kubernetes-preserve-unknown-fields"], true);
  assert.deepEqual(props.c!.enum, ["k"]);
});

Deno.test("toStructural() keeps defaults but does not require defaulted fields", () => {
  const s = toStructural(
    z.strictObject({ port: z.number().int().default(4483), name: z.string() }),
  );
  assert.deepEqual(s.required, ["name"]);
  assert.equal((s.properties as Record<string, Record<string, unknown>>).port!.default, 4483);
});
