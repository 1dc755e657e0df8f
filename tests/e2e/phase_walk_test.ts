/**
 * The whole in-cluster loop on a real kube-apiserver, with real processes and no kubelet:
 * the controller process renders the config of a VirtualMCPServer over two URL MCPServers
 * (real Streamable HTTP test backends); a real proxy process serves that config with the
 * proxy's own service-account token and reports backend health into
 * `status.discoveredBackends`; the controller turns that into the phase. One backend stops
 * and comes back; an MCP SDK client uses the proxy throughout.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { createTestNamespace, getTestCluster, serviceAccountToken } from "../harness/kube.ts";
import { freePorts } from "../harness/ports.ts";
import { logTail, type ServiceProcess, spawnService } from "../harness/process.ts";
import { eventually, installCrds, testClient } from "../controller/_setup.ts";
import {
  condition,
  getVmcp,
  group,
  markDeploymentAvailable,
  urlServer,
  vmcp,
} from "../controller/_fixtures.ts";
import { startControllerProcess } from "../controller/_process.ts";
import { connect } from "../proxy/helpers.ts";
import { createTestBackend } from "../fixtures/mod.ts";
import { WebStandardStreamableHTTPServerTransport } from "../../core/sdk.ts";
import type { KubeObject } from "../../controller/runtime/kube.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const NO_PROXY = { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" };

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

interface PortBackend {
  url: string;
  stop(): Promise<void>;
}

/**
 * A Streamable HTTP test backend on a fixed port, so it can be stopped and started again at
 * the same URL (the fixtures' serveHttpBackend always picks a new port).
 */
function backendOnPort(name: string, port: number): PortBackend {
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const abort = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    signal: abort.signal,
    onListen: () => {},
  }, async (req) => {
    const sessionId = req.headers.get("mcp-session-id");
    if (sessionId) {
      const known = transports.get(sessionId);
      if (!known) {
        return Response.json({
          jsonrpc: "2.0",
          error: { code: -32000, message: "Session not found" },
          id: null,
        }, { status: 404 });
      }
      return await known.handleRequest(req);
    }
    const transport: WebStandardStreamableHTTPServerTransport =
      new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, transport),
        onsessionclosed: (id) => void transports.delete(id),
      });
    await createTestBackend({ name }).connect(transport);
    return await transport.handleRequest(req);
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      await Promise.all([...transports.values()].map((t) => t.close().catch(() => {})));
      transports.clear();
      abort.abort();
      await server.finished;
    },
  };
}

function startProxyProcess(o: {
  dir: string;
  configPath: string;
  port: number;
  ns: string;
  name: string;
}): ServiceProcess {
  return spawnService({
    name: "vmcp proxy",
    bin: Deno.execPath(),
    logPath: `${o.dir}/proxy.log`,
    args: [
      "run",
      "-A",
      MAIN,
      "--mode=proxy",
      `--config=${o.configPath}`,
      "--host=127.0.0.1",
      `--port=${o.port}`,
      "--log-level=debug",
    ],
    env: {
      ...NO_PROXY,
      VMCP_NAME: o.name,
      VMCP_NAMESPACE: o.ns,
      VMCP_KUBE_API_URL: cluster.url,
      VMCP_KUBE_TOKEN_FILE: `${o.dir}/token`,
      VMCP_KUBE_CA_FILE: `${o.dir}/ca.crt`,
    },
  });
}

Deno.test("The proxy process reports real backend health into the VirtualMCPServer and the controller process walks the phase Ready → Degraded (backend named) → Ready while an SDK client keeps using the proxy", async () => {
  await using ns = await createTestNamespace(cluster, "e2e-phase");
  const kube = testClient(cluster);
  const dir = await Deno.makeTempDir({ prefix: "vmcp-e2e-" });
  const [portA, portB, proxyPort] = freePorts(3) as [number, number, number];
  const backends: Record<string, PortBackend | undefined> = {
    a: backendOnPort("a", portA),
    b: backendOnPort("b", portB),
  };
  let controller: ServiceProcess | undefined;
  let proxy: ServiceProcess | undefined;
  let client: Awaited<ReturnType<typeof connect>> | undefined;
  const statusOf = async () => (await getVmcp(kube, ns.name, "v"))?.status as Obj | undefined;
  const reported = (s: Obj | undefined, name: string) =>
    (s?.discoveredBackends as Obj[] | undefined)?.find((b) => b.name === name);
  try {
    controller = startControllerProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      identity: "ctrl",
      watchNamespace: ns.name,
      leaseNamespace: ns.name,
      logDir: dir,
    });
    await kube.create(group(ns.name, "team"));
    await kube.create({
      ...urlServer(ns.name, "a", "team"),
      spec: { groupRef: { name: "team" }, url: backends.a!.url },
    });
    await kube.create({
      ...urlServer(ns.name, "b", "team"),
      spec: { groupRef: { name: "team" }, url: backends.b!.url },
    });
    await kube.create(vmcp(ns.name, "v", {
      groupRef: { name: "team" },
      replicas: 1,
      operational: {
        failureHandling: {
          // A stopped backend refuses connections: noticed at the next check however long the
          // check timeout is; a generous one keeps a live backend on a busy machine healthy.
          healthCheckInterval: "1s",
          healthCheckTimeout: "10s",
          unhealthyThreshold: 1,
          partialFailureMode: "best_effort",
          statusReportingInterval: "5s",
        },
      },
    }));

    // What the controller rendered is what the proxy serves.
    const configMap = await eventually(
      "the rendered ConfigMap",
      () =>
        kube.get<KubeObject & { data?: Record<string, string> }>(
          "v1",
          "ConfigMap",
          ns.name,
          "v-vmcp-config",
        ),
      30_000,
    );
    const configText = configMap.data!["config.yaml"]!;
    const rendered = YAML.parse(configText, { version: "1.1" }) as Obj;
    assert.deepEqual(rendered.backends.map((b: Obj) => [b.name, b.url]), [
      ["a", backends.a!.url],
      ["b", backends.b!.url],
    ]);
    await Deno.writeTextFile(`${dir}/config.yaml`, configText);
    await eventually(
      "the proxy's RoleBinding",
      () => kube.get("rbac.authorization.k8s.io/v1", "RoleBinding", ns.name, "v-vmcp"),
    );
    // The proxy authenticates as its own ServiceAccount: the controller's Role must suffice.
    await Deno.writeTextFile(`${dir}/token`, await serviceAccountToken(cluster, ns.name, "v-vmcp"));
    await Deno.writeTextFile(`${dir}/ca.crt`, cluster.caPem);
    await eventually("the Deployment", () => kube.get("apps/v1", "Deployment", ns.name, "v"));
    await markDeploymentAvailable(kube, ns.name, "v"); // no kubelet runs

    proxy = startProxyProcess({
      dir,
      configPath: `${dir}/config.yaml`,
      port: proxyPort,
      ns: ns.name,
      name: "v",
    });
    const base = `http://127.0.0.1:${proxyPort}`;
    await eventually("the proxy's readiness", async () => {
      if (!proxy!.running()) throw new Error(`proxy exited: ${await logTail(proxy!.logPath)}`);
      const res = await fetch(`${base}/readyz`).catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    }, 30_000);

    // Both backends ready, reported by the proxy, counted by the controller.
    let s = await eventually("both backends reported ready and phase Ready", async () => {
      const s = await statusOf();
      return s?.phase === "Ready" && s.backendCount === 2 &&
          reported(s, "a")?.status === "ready" && reported(s, "b")?.status === "ready"
        ? s
        : undefined;
    });
    for (const name of ["a", "b"]) {
      const e = reported(s, name)!;
      assert.equal(e.url, backends[name]!.url);
      assert.equal(e.transport, "streamable-http");
      assert.equal(e.authType, "unauthenticated");
      assert.equal(e.consecutiveFailures, 0);
      assert.ok(e.toolCount > 5, `toolCount of ${name}: ${e.toolCount}`);
      assert.ok(
        !Number.isNaN(Date.parse(e.lastHealthCheck)),
        `lastHealthCheck ${e.lastHealthCheck}`,
      );
    }
    assert.equal(condition(s as never, "Ready")?.status, "True");

    // An MCP SDK client lists and calls tools of both backends through the proxy.
    client = await connect(`${base}/mcp`);
    const names = (await client.client.listTools()).tools.map((t) => t.name);
    for (const t of ["a_echo", "b_echo", "a_add", "b_add"]) {
      assert.ok(names.includes(t), `${t} in ${names}`);
    }
    const echoed = await client.client.callTool({
      name: "a_echo",
      arguments: { message: "hello" },
    });
    assert.deepEqual(echoed.structuredContent, { message: "hello", backend: "a" });
    const added = await client.client.callTool({ name: "b_add", arguments: { a: 2, b: 3 } });
    assert.deepEqual(added.structuredContent, { sum: 5 });

    // Backend b stops: the proxy reports it unavailable, the controller names it.
    await backends.b!.stop();
    backends.b = undefined;
    s = await eventually("b reported unavailable and phase Degraded", async () => {
      const s = await statusOf();
      return s?.phase === "Degraded" && reported(s, "b")?.status === "unavailable" ? s : undefined;
    });
    assert.match(s!.message, /Backends not healthy: b \(unavailable: /);
    assert.equal(condition(s as never, "Ready")?.reason, "BackendsUnavailable");
    assert.equal(s!.backendCount, 1);
    assert.equal(reported(s, "a")?.status, "ready");
    assert.ok(reported(s, "b")!.consecutiveFailures >= 1);
    // best_effort: a's tools keep working, b's are withdrawn.
    const during = (await client.client.listTools()).tools.map((t) => t.name);
    assert.ok(during.includes("a_echo") && !during.includes("b_echo"), `tools: ${during}`);
    const still = await client.client.callTool({ name: "a_echo", arguments: { message: "still" } });
    assert.deepEqual(still.structuredContent, { message: "still", backend: "a" });

    // b comes back on the same URL: reported ready again, phase Ready again.
    backends.b = backendOnPort("b", portB);
    s = await eventually("b reported ready again and phase Ready", async () => {
      const s = await statusOf();
      return s?.phase === "Ready" && s.backendCount === 2 && reported(s, "b")?.status === "ready"
        ? s
        : undefined;
    });
    assert.equal(reported(s, "b")!.consecutiveFailures, 0);
    const back = await eventually("b's tools listed again", async () => {
      const tools = (await client!.client.listTools()).tools.map((t) => t.name);
      return tools.includes("b_echo") ? tools : undefined;
    });
    assert.ok(back.includes("a_echo"));
    const again = await client.client.callTool({ name: "b_echo", arguments: { message: "back" } });
    assert.deepEqual(again.structuredContent, { message: "back", backend: "b" });

    // One writer per field: the proxy owns only what it observes (discoveredBackends and
    // nameCollisions), the controller neither of them.
    const cr = (await getVmcp(kube, ns.name, "v"))!;
    const managers = (cr.metadata!.managedFields as Obj[]).filter((m) =>
      m.subresource === "status"
    );
    const fields = (manager: string) =>
      managers.filter((m) => m.manager === manager).flatMap((m) =>
        Object.keys(m.fieldsV1["f:status"] ?? {})
      ).sort();
    const proxyOwned = ["f:discoveredBackends", "f:nameCollisions"];
    assert.ok(fields("vmcp-proxy").includes("f:discoveredBackends"), String(fields("vmcp-proxy")));
    assert.deepEqual(fields("vmcp-proxy").filter((f) => !proxyOwned.includes(f)), []);
    assert.ok(fields("vmcp-controller").includes("f:phase"));
    assert.deepEqual(fields("vmcp-controller").filter((f) => proxyOwned.includes(f)), []);
    assert.equal(
      managers.find((m) => m.manager === "vmcp-proxy")!.operation,
      "Apply",
      "the proxy writes with server-side apply",
    );

    // The proxy shuts down cleanly with the reporter running.
    await client.close();
    client = undefined;
    const p = proxy;
    proxy = undefined;
    await p.stop(10_000);
    const exit = await p.status;
    assert.equal(exit.code, 0, `proxy exit code; log:\n${await logTail(p.logPath)}`);
  } catch (err) {
    if (proxy) {
      (err as Error).message += `\n--- proxy log:\n${await logTail(proxy.logPath, 6000)}`;
    }
    throw err;
  } finally {
    await client?.close().catch(() => {});
    await proxy?.stop();
    await controller?.stop();
    await Promise.all(Object.values(backends).map((b) => b?.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
