/**
 * deploy/crds/ is where `deno task crds` writes the CRDs, next to the hand-written
 * kustomization.yml that deploy/ and deploy/namespaced/ include. These tests fail when a
 * file is stale, extra, or missing from kustomization.yml.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { renderCrds } from "../crds/generate.ts";

const COPIES = new URL("./crds/", import.meta.url);
const KUSTOMIZATION = "kustomization.yml";

Deno.test("deploy/crds holds exactly the generated CRDs, byte for byte", async () => {
  const copies = new Set<string>();
  for await (const e of Deno.readDir(COPIES)) {
    if (e.isFile && e.name !== KUSTOMIZATION) copies.add(e.name);
  }
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

Deno.test("crds/kustomization.yml installs every CRD copy, and deploy/ and deploy/namespaced/ include it", async () => {
  const read = async (path: string) =>
    YAML.parse(await Deno.readTextFile(new URL(path, import.meta.url))).resources as string[];
  const listed = await read(`./crds/${KUSTOMIZATION}`);
  assert.deepEqual(listed.sort(), [...renderCrds().keys()].sort());
  assert.ok((await read("./kustomization.yaml")).includes("crds/"));
  assert.ok((await read("./namespaced/kustomization.yaml")).includes("../crds/"));
});
