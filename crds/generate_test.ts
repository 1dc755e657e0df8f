import assert from "node:assert/strict";
import YAML from "yaml";
import { GENERATED_DIR, renderCrds } from "./generate.ts";
import { DOCS_FILE, renderCrdDocs } from "./docs.ts";

Deno.test("checked-in CRD YAML matches the zod schemas (run `deno task crds` after a schema change)", async () => {
  for (const [name, text] of renderCrds()) {
    const current = await Deno.readTextFile(new URL(name, GENERATED_DIR)).catch(() => "(missing)");
    assert.ok(
      current === text,
      `deploy/crds/${name} drifted from the schemas; run deno task crds`,
    );
  }
});

Deno.test("every CRD field has a description", () => {
  const missing: string[] = [];
  function walk(node: Record<string, unknown>, path: string) {
    const props = node.properties as Record<string, Record<string, unknown>> | undefined;
    for (const [k, v] of Object.entries(props ?? {})) {
      const p = `${path}.${k}`;
      if (!v.description && !["apiVersion", "kind", "metadata"].includes(k)) missing.push(p);
      walk(v, p);
    }
    const items = node.items as Record<string, unknown> | undefined;
    if (items) walk(items, `${path}[]`);
    const ap = node.additionalProperties as Record<string, unknown> | undefined;
    if (ap && typeof ap === "object") walk(ap, `${path}{}`);
  }
  for (const [name, text] of renderCrds()) {
    const crd = YAML.parse(text);
    walk(crd.spec.versions[0].schema.openAPIV3Schema, name);
  }
  assert.deepEqual(missing, []);
});

Deno.test("docs/reference/crds.md matches the schemas and documents every spec field", async () => {
  const current = await Deno.readTextFile(DOCS_FILE).catch(() => "(missing)");
  assert.ok(current === renderCrdDocs(), "docs/reference/crds.md drifted; run deno task crds");
  for (
    const field of [
      "spec.groupRef",
      "spec.incomingAuth.oidcConfig.inline.issuer",
      "spec.tokenCache.redis.address",
      "status.discoveredBackends",
    ]
  ) {
    assert.ok(current.includes(`\`${field}\``), field);
  }
});
