/**
 * The MCPServer reconciler in the running controller (in-process manager) against a real
 * kube-apiserver: url servers, HTTP image servers (Deployment + Service `mcp-<name>`), stdio
 * image servers behind the vmcp stdio bridge, and invalid specs. Plus the bridge contract:
 * the command lines the controller writes into the pod are accepted by the vmcp CLI.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { eventually, GV, installCrds, testClient } from "./_setup.ts";
import { markDeploymentAvailable } from "./_fixtures.ts";
import { startManager } from "./_manager.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = KubeObject & Record<string, any>;
const PROXY_IMAGE = "example.test/vmcp:bridge";
const inProcess = { sanitizeResources: false, sanitizeOps: false };

function server(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: GV, kind: "MCPServer", metadata: { name, namespace: ns }, spec };
}

const getServer = (kube: KubeClient, ns: string, name: string) =>
  kube.get<Obj>(GV, "MCPServer", ns, name);

/** Waits until the server's status satisfies `pred` (status written by the controller). */
function serverWhere(
  kube: KubeClient,
  ns: string,
  name: string,
  what: string,
  pred: (s: Obj) => boolean,
) {
  return eventually(
    `MCPServer ${name}: ${what}`,
    async () => {
      const s = await getServer(kube, ns, name);
      return s && s.status && pred(s) ? s : undefined;
    },
    15_000,
    50,
  );
}

function ownedBy(obj: Obj | undefined, owner: Obj): boolean {
  const ref = obj?.metadata?.ownerReferences?.[0];
  return ref?.kind === "MCPServer" && ref.name === owner.metadata!.name &&
    ref.uid === owner.metadata!.uid && ref.controller === true;
}

Deno.test({
  name:
    "A url MCPServer is Ready at its url; HTTP image servers get an owned Deployment and Service mcp-<name>, stay Pending until the Deployment is available, then are Ready at the Service url",
  ...inProcess,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "mcps-http");
    const kube = testClient(cluster);
    await using _mgr = await startManager(kube, ns.name, PROXY_IMAGE);
    await kube.create(server(ns.name, "remote", { url: "https://mcp.example.test/v1/mcp" }));
    await kube.create(server(ns.name, "web", {
      image: "example.test/web:1",
      transport: "streamable-http",
      port: 9000,
      path: "custom",
      args: ["--verbose"],
      env: [{ name: "LEVEL", value: "debug" }],
    }));
    await kube.create(server(ns.name, "events", {
      image: "example.test/events:1",
      transport: "sse",
      path: "/sse",
    }));

    const remote = await serverWhere(
      kube,
      ns.name,
      "remote",
      "Ready",
      (s) => s.status.phase === "Ready",
    );
    assert.equal(remote.status.url, "https://mcp.example.test/v1/mcp");
    assert.equal(remote.status.observedGeneration, remote.metadata!.generation);
    assert.equal(
      await kube.get("apps/v1", "Deployment", ns.name, "mcp-remote"),
      undefined,
      "a url server runs nothing",
    );

    const web = await serverWhere(
      kube,
      ns.name,
      "web",
      "Pending",
      (s) => s.status.phase === "Pending",
    );
    const webUrl = `http://mcp-web.${ns.name}.svc.cluster.local:9000/custom`;
    assert.equal(web.status.url, webUrl);
    const ready = web.status.conditions.find((c: Obj) => c.type === "Ready");
    assert.equal(ready.reason, "DeploymentNotReady");
    assert.match(ready.message, /Deployment "mcp-web"/);
    const d = (await kube.get<Obj>("apps/v1", "Deployment", ns.name, "mcp-web"))!;
    const svc = (await kube.get<Obj>("v1", "Service", ns.name, "mcp-web"))!;
    assert.ok(ownedBy(d, web), "the Deployment is owned by the MCPServer");
    assert.ok(ownedBy(svc, web), "the Service is owned by the MCPServer");
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.image, "example.test/web:1");
    assert.deepEqual(c.args, ["--verbose"]);
    assert.equal(c.command, undefined, "an HTTP image keeps its entrypoint");
    assert.deepEqual(c.env, [{ name: "LEVEL", value: "debug" }]);
    assert.deepEqual(c.ports.map((p: Obj) => [p.name, p.containerPort]), [["http", 9000]]);
    assert.equal(d.spec.template.spec.initContainers, undefined);
    assert.deepEqual(d.spec.selector.matchLabels, d.spec.template.metadata.labels);
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    assert.deepEqual(svc.spec.ports.map((p: Obj) => [p.port, p.targetPort]), [[9000, "http"]]);

    const events = await serverWhere(
      kube,
      ns.name,
      "events",
      "Pending",
      (s) => s.status.phase === "Pending",
    );
    assert.equal(events.status.url, `http://mcp-events.${ns.name}.svc.cluster.local:8080/sse`);

    await markDeploymentAvailable(kube, ns.name, "mcp-web");
    const readyWeb = await serverWhere(
      kube,
      ns.name,
      "web",
      "Ready",
      (s) => s.status.phase === "Ready",
    );
    assert.equal(readyWeb.status.url, webUrl);
    assert.equal(
      readyWeb.status.conditions.find((x: Obj) => x.type === "Ready").reason,
      "ServerReady",
    );
    assert.equal(
      (await getServer(kube, ns.name, "events"))!.status.phase,
      "Pending",
      "the other server still waits for its own Deployment",
    );
  },
});

Deno.test({
  name:
    "A stdio image server runs behind the bridge: an init container copies vmcp with copy-binary (no cp in the distroless image) and the server container runs vmcp --stdio-bridge with the args; without args it is Failed naming spec.args",
  ...inProcess,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "mcps-stdio");
    const kube = testClient(cluster);
    await using _mgr = await startManager(kube, ns.name, PROXY_IMAGE);
    await kube.create(
      server(ns.name, "tool", { image: "example.test/tool:1", transport: "stdio" }),
    );
    const failed = await serverWhere(
      kube,
      ns.name,
      "tool",
      "Failed",
      (s) => s.status.phase === "Failed",
    );
    assert.match(failed.status.message, /spec\.args/);
    assert.equal(
      failed.status.conditions.find((c: Obj) => c.type === "Ready").reason,
      "InvalidSpec",
    );
    assert.equal(await kube.get("apps/v1", "Deployment", ns.name, "mcp-tool"), undefined);

    await kube.patch({
      apiVersion: GV,
      kind: "MCPServer",
      metadata: { name: "tool", namespace: ns.name },
    }, { spec: { args: ["node", "/app/server.js", "--flag"], port: 7000 } });
    const pending = await serverWhere(
      kube,
      ns.name,
      "tool",
      "Pending",
      (s) => s.status.phase === "Pending",
    );
    assert.equal(pending.status.url, `http://mcp-tool.${ns.name}.svc.cluster.local:7000/mcp`);
    const d = (await kube.get<Obj>("apps/v1", "Deployment", ns.name, "mcp-tool"))!;
    assert.ok(ownedBy(d, pending));
    const pod = d.spec.template.spec;
    assert.equal(pod.initContainers.length, 1);
    const init = pod.initContainers[0];
    assert.equal(init.image, PROXY_IMAGE);
    assert.deepEqual(init.command, ["/usr/local/bin/vmcp", "copy-binary", "/vmcp-bin/vmcp"]);
    assert.deepEqual(init.volumeMounts, [{ name: "vmcp-bin", mountPath: "/vmcp-bin" }]);
    const c = pod.containers[0];
    assert.equal(c.image, "example.test/tool:1");
    assert.deepEqual(c.command, ["/vmcp-bin/vmcp"]);
    assert.deepEqual(c.args, [
      "--mode=proxy",
      "--stdio-bridge",
      "--host=0.0.0.0",
      "--port=7000",
      "--",
      "node",
      "/app/server.js",
      "--flag",
    ]);
    assert.deepEqual(c.volumeMounts, [{
      name: "vmcp-bin",
      mountPath: "/vmcp-bin",
      readOnly: true,
    }]);
    assert.deepEqual(pod.volumes, [{ name: "vmcp-bin", emptyDir: {} }]);
    assert.ok(await kube.get("v1", "Service", ns.name, "mcp-tool"));

    await markDeploymentAvailable(kube, ns.name, "mcp-tool");
    await serverWhere(kube, ns.name, "tool", "Ready", (s) => s.status.phase === "Ready");
  },
});
