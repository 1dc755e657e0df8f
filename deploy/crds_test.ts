/**
 * deploy/crds/ is where `deno task crds` writes the CRDs (inside the kustomize root). These
 * tests fail when a file is stale, extra, or missing from kustomization.yaml.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { renderCrds } from "../crds/generate.ts";

const COPIES = new URL("./crds/", import.meta.url);

Deno.test("deploy/crds holds exactly the generated CRDs, byte for byte", async () => {
  const copies = new Set<string>();
  for await (const e of Deno.readDir(COPIES)) if (e.isFile) copies.add(e.name);
  const generated = renderCrds();
  assert.deepEqual([...copies].sort(), [...generated.keys()].sort());
  for (const [name, text] of generated) {
    const copy = await Deno.readTextFile(new URL(name, COPIES));
    assert.ok(
      copy === text,
      `deploy/crds/${name} differs from the schemas; run deno task crds`,
    );
  }
});

Deno.test("kustomization.yaml installs every CRD copy", async () => {
  const k = YAML.parse(await Deno.readTextFile(new URL("./kustomization.yaml", import.meta.url)));
  const listed = (k.resources as string[]).filter((r) => r.startsWith("crds/"));
  assert.deepEqual(listed.sort(), [...renderCrds().keys()].map((n) => `crds/${n}`).sort());
});
