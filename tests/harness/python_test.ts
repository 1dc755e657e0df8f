import assert from "node:assert/strict";
import { provisionPythonMcp, PYTHON_MCP_VERSION } from "./python.ts";

const py = await provisionPythonMcp();
const ignoreReason = py.ok ? "" : ` (ignored: ${py.reason.slice(0, 200)})`;

Deno.test({
  name: "provisionPythonMcp() returns a venv outside the repository that imports the pinned mcp" +
    ignoreReason,
  ignore: !py.ok,
  async fn() {
    assert.ok(py.ok);
    const repo = new URL("../../", import.meta.url).pathname;
    assert.ok(!py.python.startsWith(repo), `${py.python} is inside the repository ${repo}`);
    const out = await new Deno.Command(py.python, {
      args: [
        "-c",
        "import importlib.metadata as m, mcp.client.streamable_http; print(m.version('mcp'))",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), PYTHON_MCP_VERSION);
    // A second call is answered from the cache.
    const again = await provisionPythonMcp();
    assert.deepEqual(again, py);
  },
});

Deno.test({
  name: "two processes provisioning one fresh cache at once build one venv and leave no scratch" +
    ignoreReason,
  ignore: !py.ok,
  async fn() {
    const cache = await Deno.makeTempDir({ prefix: "vmcp-pycache-" });
    try {
      const script = `import { provisionPythonMcp } from ${
        JSON.stringify(new URL("./python.ts", import.meta.url).href)
      }; console.log(JSON.stringify(await provisionPythonMcp()));`;
      const run = () =>
        new Deno.Command(Deno.execPath(), {
          args: ["eval", script],
          env: { VMCP_CACHE: cache },
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(10 * 60_000),
        }).output();
      const [a, b] = await Promise.all([run(), run()]);
      const results = [a, b].map((o) => {
        const text = new TextDecoder().decode(o.stdout).trim();
        assert.ok(o.success, `exit ${o.code}: ${text} ${new TextDecoder().decode(o.stderr)}`);
        return JSON.parse(text.split("\n").pop()!);
      });
      assert.equal(results[0].ok, true, JSON.stringify(results[0]));
      assert.deepEqual(results[0], results[1]);
      assert.equal(results[0].python, `${cache}/python/mcp-${PYTHON_MCP_VERSION}/bin/python`);
      const left: string[] = [];
      for await (const e of Deno.readDir(`${cache}/python`)) left.push(e.name);
      assert.deepEqual(left.sort(), [
        `mcp-${PYTHON_MCP_VERSION}`,
        `mcp-${PYTHON_MCP_VERSION}.lock`,
      ]);
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});

Deno.test("provisionPythonMcp() names the missing interpreter instead of throwing", async () => {
  const cache = await Deno.makeTempDir({ prefix: "vmcp-pycache-" });
  try {
    const r = await provisionPythonMcp({ cacheRoot: cache, basePython: "/nonexistent/python3" });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.reason.includes("/nonexistent/python3"), JSON.stringify(r));
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
