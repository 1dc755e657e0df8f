/**
 * The stdio bridge contract between the controller and the vmcp CLI: the init container and
 * server container command lines the MCPServer reconciler writes are run (through
 * `deno run main.ts` in place of the compiled /usr/local/bin/vmcp) and must copy the binary
 * and serve the stdio server over Streamable HTTP.
 */
import assert from "node:assert/strict";
import { buildServerWorkload } from "../../controller/mcpserver/workload.ts";
import { MCPServerSpecSchema } from "../../crds/backends.ts";
import { stdioBackendCommand } from "../fixtures/stdio_backend.ts";
import { freePorts } from "../harness/ports.ts";
import { spawnService } from "../harness/process.ts";
import { connect } from "../proxy/helpers.ts";
import { eventually, GV } from "./_setup.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const BINARY = "/usr/local/bin/vmcp";

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

Deno.test("The bridge command lines in a stdio server's pod work with the vmcp CLI: copy-binary copies the executable and --stdio-bridge serves the server's tools", async () => {
  const [port] = await freePorts(1);
  const backend = stdioBackendCommand({ name: "gamma" });
  const spec = MCPServerSpecSchema.parse({
    image: "example.test/gamma:1",
    transport: "stdio",
    port,
    args: [backend.command, ...backend.args],
  });
  const owner = {
    apiVersion: GV,
    kind: "MCPServer",
    metadata: { name: "gamma", namespace: "ns", uid: "00000000-0000-0000-0000-000000000001" },
  };
  const [deployment] = buildServerWorkload(owner, spec, "example.test/vmcp:test") as Obj[];
  const pod = deployment!.spec.template.spec;
  const dir = await Deno.makeTempDir({ prefix: "vmcp-bridge-" });
  const local = (s: string) => s.replaceAll("/vmcp-bin", dir);
  // The pod's commands, with the compiled binary replaced by `deno run -A main.ts`.
  const cli = (argv: string[]) => {
    const [bin, ...rest] = argv.map(local);
    assert.ok(bin === BINARY || bin === `${dir}/vmcp`, `runs vmcp: ${bin}`);
    return ["run", "-A", MAIN, ...rest];
  };
  let proc: ReturnType<typeof spawnService> | undefined;
  try {
    const init = pod.initContainers[0];
    const copied = await new Deno.Command(Deno.execPath(), {
      args: cli([...init.command, ...(init.args ?? [])]),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(copied.code, 0, new TextDecoder().decode(copied.stderr));
    const st = await Deno.stat(`${dir}/vmcp`);
    assert.ok(st.isFile && (st.mode! & 0o111) !== 0, "copy-binary leaves an executable file");

    const c = pod.containers[0];
    const args = cli([...c.command, ...c.args]).map((a) =>
      a === "--host=0.0.0.0" ? "--host=127.0.0.1" : a
    );
    proc = spawnService({
      name: "bridge",
      bin: Deno.execPath(),
      args,
      logPath: `${dir}/bridge.log`,
      env: backend.env,
    });
    const url = `http://127.0.0.1:${port}/mcp`;
    const client = await eventually(
      "the bridge to answer",
      async () => {
        if (!proc!.running()) return "exited" as const;
        return await connect(url);
      },
      20_000,
      100,
    );
    if (client === "exited") {
      const log = await Deno.readTextFile(`${dir}/bridge.log`).catch(() => "");
      assert.fail(`the bridge exited: ${log.slice(0, 600)}`);
    }
    try {
      const tools = (await client.client.listTools()).tools.map((t) => t.name);
      assert.ok(tools.length > 0, `the stdio server's tools are served: ${tools}`);
    } finally {
      await client.close();
    }
  } finally {
    await proc?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
