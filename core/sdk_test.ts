import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("deno check catches a type error in MCP SDK use through core/sdk.ts", async () => {
  const dir = await Deno.makeTempDir({ dir: root, prefix: ".sdk-typecheck-" });
  try {
    const file = `${dir}/bad.ts`;
    await Deno.writeTextFile(
      file,
      [
        'import { CallToolResultSchema, Client } from "../core/sdk.ts";',
        'const client = new Client({ name: "t", version: "1" });',
        "const n: number = client.getServerVersion();",
        "const s: string = CallToolResultSchema;",
        "export { n, s };",
      ].join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", file],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, text);
    assert.equal((text.match(/TS2322/g) ?? []).length, 2, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the proxy's module graph does not contain the Kubernetes client", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "proxy/main.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const specifiers = graph.modules.map((m) => m.specifier);
  assert.ok(
    specifiers.some((s) => s.includes("@modelcontextprotocol/sdk")),
    "npm modules are listed",
  );
  const k8s = specifiers.filter((s) => s.includes("@kubernetes/client-node"));
  assert.deepEqual(k8s, [], "proxy/main.ts must not load @kubernetes/client-node");
});
