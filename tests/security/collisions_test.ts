/**
 * A name collision left after conflict resolution, end to end: backend `weather` tool
 * `get_forecast` and backend `weather_get` tool `forecast` both become `weather_get_forecast`
 * under `prefix`. The real proxy binary keeps `weather`'s (first by backend name), logs the
 * collision at warn, shows it in `/status`, reports it into the VirtualMCPServer's status on
 * the real API server, and the controller's reconcile turns it into `ToolNameConflicts` True.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import { until } from "../harness/until.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import type { TestTool } from "../fixtures/backend.ts";
import { installCrds, testClient } from "../controller/_setup.ts";
import { condition, getVmcp, group, reconcileOnce, vmcp } from "../controller/_fixtures.ts";
import { logLines, proxyProcess, RawMcp } from "./helpers.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

function tool(name: string, answer: string): TestTool {
  return { name, handler: () => ({ content: [{ type: "text", text: answer }] }) };
}

Deno.test("a tool name left claimed by two backends after prefixing keeps the first backend's tool, is logged at warn, shown in /status and becomes ToolNameConflicts on the VirtualMCPServer", async () => {
  await using ns = await createTestNamespace(cluster, "sec-collide");
  const kube = testClient(cluster);
  await kube.create(group(ns.name, "g"));
  await kube.create(vmcp(ns.name, "v", { groupRef: { name: "g" } }));
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/token`, cluster.token);
  await Deno.writeTextFile(`${dir}/ca.crt`, cluster.caPem);
  const weather = await serveHttpBackend({
    name: "weather",
    builtins: false,
    extraTools: [tool("get_forecast", "from weather")],
  });
  const weatherGet = await serveHttpBackend({
    name: "weather_get",
    builtins: false,
    extraTools: [tool("forecast", "from weather_get")],
  });
  // Listed in the opposite order: the winner must not depend on it.
  const p = await proxyProcess({
    name: "v",
    namespace: ns.name,
    aggregation: {
      conflictResolution: "prefix",
      conflictResolutionConfig: { prefixFormat: "{workload}_" },
    },
    backends: [{ name: "weather_get", url: weatherGet.url }, { name: "weather", url: weather.url }],
  }, {
    VMCP_NAME: "v",
    VMCP_NAMESPACE: ns.name,
    VMCP_KUBE_API_URL: cluster.url,
    VMCP_KUBE_TOKEN_FILE: `${dir}/token`,
    VMCP_KUBE_CA_FILE: `${dir}/ca.crt`,
  });
  const raw = new RawMcp(p.url);
  try {
    assert.equal((await raw.initialize()).status, 200);
    const list = await raw.request("tools/list");
    const names = (list.json?.result?.tools as { name: string }[]).map((t) => t.name);
    assert.deepEqual(names, ["weather_get_forecast"]);
    const call = await raw.request("tools/call", { name: "weather_get_forecast", arguments: {} });
    assert.match(call.text, /from weather"/);

    const warned = logLines(p).filter((l) =>
      l.level === "warn" && /name collision left after conflict resolution/.test(String(l.msg))
    );
    assert.equal(warned.length, 1, p.stderr().slice(-2000));
    assert.deepEqual(
      { kind: warned[0]!.kind, name: warned[0]!.name, kept: warned[0]!.kept },
      {
        kind: "tool",
        name: "weather_get_forecast",
        kept: { backend: "weather", originalName: "get_forecast" },
      },
    );

    const status = await (await fetch(`${p.url.replace(/\/mcp$/, "")}/status`)).json();
    const expected = [{
      kind: "tool",
      name: "weather_get_forecast",
      kept: { backend: "weather", originalName: "get_forecast" },
      dropped: [{ backend: "weather_get", originalName: "forecast" }],
    }];
    assert.deepEqual(status.collisions, expected);

    // The proxy reports it into the CR; the controller turns it into a condition.
    await until("nameCollisions reported", async () => {
      const v = await getVmcp(kube, ns.name, "v");
      return isDeepStrictEqual(
        (v?.status as { nameCollisions?: unknown })?.nameCollisions,
        expected,
      );
    }, 60_000).catch((err) => {
      throw new Error(
        `${err.message}; proxy log:\n${
          p.stderr().split("\n").filter((l) => /status|VirtualMCPServer/.test(l)).join("\n")
        }`,
      );
    });
    await reconcileOnce(kube, ns.name, "v");
    const c = condition((await getVmcp(kube, ns.name, "v"))?.status, "ToolNameConflicts");
    assert.equal(c?.status, "True");
    assert.equal(c?.reason, "NameCollisionsLeft");
    assert.match(
      c!.message!,
      /weather_get_forecast.*kept weather\/get_forecast.*weather_get\/forecast/,
    );
  } finally {
    await raw.close();
    await p.stop();
    await weather.stop();
    await weatherGet.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
