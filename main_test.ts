import assert from "node:assert/strict";

const root = new URL(".", import.meta.url).pathname;

async function vmcp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("vmcp --help lists every mode flag and env var and exits 0", async () => {
  for (const mode of ["--mode=proxy", "--mode=controller"]) {
    const r = await vmcp(mode, "--help");
    assert.equal(r.code, 0);
    for (
      const flag of [
        "--config",
        "--demo",
        "--kubeconfig",
        "--proxy-image",
        "--lease-duration",
        "VMCP_MODE",
        "VMCP_LOG_LEVEL",
      ]
    ) {
      assert.ok(r.stdout.includes(flag), `help lacks ${flag}`);
    }
  }
});

Deno.test("vmcp validate exits 2 and lists all three mistakes with field paths", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    [
      "name: demo",
      "aggregation: { conflictResolution: alphabetical }",
      "operational: { timeouts: { default: soon } }",
      "backends: [{ name: a, transport: stdio }]",
    ].join("\n"),
  );
  try {
    const r = await vmcp("validate", "--config", file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /3 problem\(s\)/);
    assert.match(r.stderr, /aggregation\.conflictResolution/);
    assert.match(r.stderr, /operational\.timeouts\.default/);
    assert.match(r.stderr, /backends\[0\]\.command/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("vmcp validate accepts the demo config", async () => {
  const r = await vmcp("validate", "--config", "examples/demo/vmcp.yaml");
  assert.equal(r.code, 0, r.stderr);
});

Deno.test("vmcp rejects an unknown mode naming the allowed values", async () => {
  const r = await vmcp("--mode=gateway");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--mode: "gateway" is not one of proxy, controller/);
});

Deno.test("vmcp crds prints every CRD of the API group", async () => {
  const r = await vmcp("crds");
  assert.equal(r.code, 0, r.stderr);
  for (
    const plural of [
      "virtualmcpservers",
      "mcpgroups",
      "mcpservers",
      "mcpexternalauthconfigs",
      "virtualmcpcompositetooldefinitions",
    ]
  ) {
    assert.ok(r.stdout.includes(`name: ${plural}.toolhive.stacklok.dev`), plural);
  }
});
