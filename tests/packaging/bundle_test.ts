/**
 * `deno compile` needs a runtime download these machines cannot reach, so the image build does
 * it. Offline, `deno bundle` produces the same single artifact from the same module graph:
 * this proves the one-file build is sound (every mode loads, lazily imported modules included).
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function run(args: string[], cwd = root) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("main.ts bundles into one file that runs every command without the source tree", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-bundle-" });
  try {
    const file = `${dir}/vmcp.js`;
    const b = await run(["bundle", "--platform", "deno", "-o", file, "main.ts"]);
    assert.equal(b.code, 0, b.stderr);
    const help = await run(["run", "-A", file, "--help"], dir);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--mode=proxy\|controller/);
    const crds = await run(["run", "-A", file, "crds"], dir);
    assert.equal(crds.code, 0, crds.stderr);
    assert.equal(crds.stdout.match(/kind: CustomResourceDefinition/g)?.length, 5);
    const config = `${dir}/bad.yaml`;
    await Deno.writeTextFile(config, "name: x\nbackends: [{ name: a, transport: stdio }]\n");
    const bad = await run(["run", "-A", file, "validate", "--config", config], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /backends\[0\]\.command/);
    const ctl = await run(
      ["run", "-A", file, "--mode=controller", "--lease-duration", "soon"],
      dir,
    );
    assert.equal(ctl.code, 2, "the controller module loads from the bundle and rejects bad flags");
    assert.match(ctl.stderr + ctl.stdout, /--lease-duration: \\"soon\\" is not a positive number/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
