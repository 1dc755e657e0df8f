/**
 * Issue #15 (part B) against a real kube-apiserver: what a VirtualMCPServer says is what the
 * rendered proxy config does (explicit outgoing entries win, the OIDC resource URL is
 * rendered, opaque-token introspection gets its client secret from a Secret), seed-era fields
 * are refused with what to use instead instead of being dropped, and the status says what
 * happened (no backends, failed discovery, a failed rollout).
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { resolveStrategy } from "../../core/auth/resolve_strategy.ts";
import { optimizerFromConfig } from "../../proxy/optimizer/from_config.ts";
import { createIncomingAuth } from "../../proxy/auth/incoming.ts";
import { AuditTrail } from "../../proxy/audit/trail.ts";
import { silentLogger } from "../../core/log.ts";
import { Registry } from "prom-client";
import { startTelemetry } from "../../proxy/telemetry/setup.ts";
import { telemetry } from "../../proxy/telemetry/instrument.ts";
import { TelemetryConfigSchema } from "../../crds/telemetry.ts";
import { GV, installCrds, testClient } from "./_setup.ts";
import {
  condition,
  createAll,
  getVmcp,
  group,
  markDeploymentAvailable,
  reconcileGroupOnce,
  reconcileOnce,
  renderedConfig as renderedFixture,
  secret,
  urlServer,
  vmcp,
} from "./_fixtures.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = KubeObject & Record<string, any>;

function authConfig(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: GV, kind: "MCPExternalAuthConfig", metadata: { name, namespace: ns }, spec };
}

async function renderedConfig(kube: KubeClient, ns: string, name: string) {
  const got = await renderedFixture(kube, ns, name);
  assert.ok(got, "the ConfigMap exists");
  return got;
}

async function containerEnv(kube: KubeClient, ns: string, name: string) {
  const d = await kube.get<Obj>("apps/v1", "Deployment", ns, name);
  assert.ok(d, "the Deployment exists");
  return d.spec.template.spec.containers[0].env as Obj[];
}

async function patchSpec(kube: KubeClient, ns: string, name: string, spec: unknown) {
  await kube.patch({
    apiVersion: GV,
    kind: "VirtualMCPServer",
    metadata: { name, namespace: ns },
  }, { spec });
}

Deno.test("with the default (discovered) source an outgoingAuth.backends entry is what the rendered config uses, from its Secret, and the server's own unused reference is not required", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-explicit");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    secret(ns.name, "entry-secret", { key: "entry-value" }),
    secret(ns.name, "jira-secret", { key: "jira-value" }),
    authConfig(ns.name, "jira-auth", {
      type: "headerInjection",
      headerInjection: {
        headerName: "X-Jira",
        valueSecretRef: { name: "jira-secret", key: "key" },
      },
    }),
    // gh's own reference names an MCPExternalAuthConfig that does not exist: unused, since
    // the VirtualMCPServer's explicit entry for gh wins.
    urlServer(ns.name, "gh", "g", { externalAuthConfigRef: { name: "no-such-auth" } }),
    urlServer(ns.name, "jira", "g", { externalAuthConfigRef: { name: "jira-auth" } }),
    vmcp(ns.name, "v", {
      groupRef: { name: "g" },
      outgoingAuth: {
        backends: {
          gh: {
            type: "headerInjection",
            headerInjection: {
              headerName: "X-Entry",
              valueSecretRef: { name: "entry-secret", key: "key" },
            },
          },
        },
      },
    }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(
    condition(s, "AuthConfigured")?.status,
    "True",
    condition(s, "AuthConfigured")?.message ?? "",
  );
  const { config, text } = await renderedConfig(kube, ns.name, "v");
  assert.ok(
    !text.includes("entry-value") && !text.includes("jira-value"),
    "no Secret value in the ConfigMap",
  );
  const strategy = (name: string) =>
    resolveStrategy(config.backends.find((b) => b.name === name)!, config) as Obj;
  assert.deepEqual(strategy("gh"), {
    type: "headerInjection",
    headerInjection: { headerName: "X-Entry", valueEnv: "VMCP_SECRET_GH_HEADER_VALUE" },
  });
  assert.equal(
    strategy("jira").headerInjection.headerName,
    "X-Jira",
    "no entry: the discovered one",
  );
  const env = await containerEnv(kube, ns.name, "v");
  assert.deepEqual(env.find((e) => e.name === "VMCP_SECRET_GH_HEADER_VALUE")?.valueFrom, {
    secretKeyRef: { name: "entry-secret", key: "key" },
  });
});

Deno.test("spec.audit is rendered into the proxy config and the proxy's audit trail runs with it", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-audit");
  const kube = testClient(cluster);
  const audit = {
    enabled: true,
    eventTypes: ["mcp_tool_call", "auth_failed"],
    excludeEventTypes: ["auth_failed"],
    includeRequestData: true,
    maxDataSize: 512,
    maxBufferedEvents: 2000,
  };
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", { groupRef: { name: "g" }, audit }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const { config } = await renderedConfig(kube, ns.name, "v");
  assert.deepEqual(config.audit, { ...audit, output: "stderr" });
  // What the proxy does with it at start (proxy/serve.ts): an audit trail with these settings.
  const trail = new AuditTrail(new Registry(), silentLogger);
  const auditor = await trail.apply(config.audit);
  try {
    assert.ok(auditor, "audit is on");
    assert.equal(auditor.wants("mcp_tool_call"), true);
    assert.equal(auditor.wants("auth_failed"), false, "excludeEventTypes wins");
    assert.equal(auditor.wants("session_opened"), false, "not in eventTypes");
    assert.deepEqual(auditor.requestData({ password: "p", q: "x".repeat(600) }).truncated, true);
  } finally {
    await trail.close();
  }
});

Deno.test("spec.telemetry is rendered into the proxy config (service name: the VirtualMCPServer's) and the proxy's OpenTelemetry starts with it", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-otel");
  const kube = testClient(cluster);
  const spec = { endpoint: "otel-collector:4318", insecure: true, tracingEnabled: true };
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", { groupRef: { name: "g" }, telemetry: spec }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const { config } = await renderedConfig(kube, ns.name, "v");
  assert.deepEqual(config.telemetry, {
    ...spec,
    serviceName: "v",
    metricsEnabled: false,
    samplingRate: 0.05,
  });
  // What the proxy does with it at start (proxy/serve.ts): tracing on, metrics off.
  const handle = startTelemetry(TelemetryConfigSchema.parse(config.telemetry));
  try {
    assert.ok(handle && telemetry?.tracer, "tracing is on");
  } finally {
    await handle?.shutdown();
  }
  assert.equal(telemetry, undefined, "shutdown turns the hooks off");
});

Deno.test("spec.optimizer is rendered into the proxy config (its API key Secret as an env var) and the proxy's tool search runs with it", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-optimizer");
  const kube = testClient(cluster);
  const optimizer = {
    maxToolsToReturn: 3,
    hybridSearchSemanticRatio: "0.25",
    embeddingService: "http://emb.example.test/v1",
    embeddingModel: "text-embedding-3-small",
    embeddingApiKeyRef: { name: "emb", key: "apiKey" },
  };
  await createAll(kube, [
    group(ns.name, "g"),
    secret(ns.name, "emb", { apiKey: "emb-secret-value" }),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", { groupRef: { name: "g" }, optimizer }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const { config, text } = await renderedConfig(kube, ns.name, "v");
  assert.ok(!text.includes("emb-secret-value"), "no Secret value in the ConfigMap");
  const { embeddingApiKeyRef: _, ...rest } = optimizer;
  assert.deepEqual(config.optimizer, {
    ...rest,
    semanticDistanceThreshold: "1.0",
    embeddingProvider: "openai",
    embeddingServiceTimeout: "30s",
    embeddingApiKeyEnv: "VMCP_OPTIMIZER_EMBEDDING_API_KEY",
  });
  const env = await containerEnv(kube, ns.name, "v");
  assert.deepEqual(env.find((e) => e.name === "VMCP_OPTIMIZER_EMBEDDING_API_KEY")?.valueFrom, {
    secretKeyRef: { name: "emb", key: "apiKey" },
  });
  // What the proxy does with it at start (proxy/runtime.ts): find_tool and call_tool, with
  // these settings and the key read from that variable.
  const tools = optimizerFromConfig(config, undefined, {
    log: silentLogger,
    env: (n) => n === "VMCP_OPTIMIZER_EMBEDDING_API_KEY" ? "emb-secret-value" : undefined,
  });
  assert.ok(tools, "the optimizer is on");
  assert.deepEqual(tools.tools.map((t) => t.name), ["call_tool", "find_tool"]);
  assert.equal(tools.search.settings.maxToolsToReturn, 3);
  assert.equal(tools.search.settings.hybridSearchSemanticRatio, 0.25);
  assert.equal(tools.search.settings.embeddings?.model, "text-embedding-3-small");
  tools.search.close();
});

Deno.test("OIDC without audience or resourceUrl works in a cluster: the controller renders resourceUrl as status.url + /mcp, which the proxy advertises and expects as the audience", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-resource");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", {
      groupRef: { name: "g" },
      incomingAuth: {
        type: "oidc",
        oidcConfig: { type: "inline", inline: { issuer: "https://idp.example.test" } },
      },
    }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const cr = (await getVmcp(kube, ns.name, "v"))!;
  assert.equal(
    condition(cr.status, "Valid")?.status,
    "True",
    condition(cr.status, "Valid")?.message ?? "",
  );
  const want = `${cr.status!.url}/mcp`;
  assert.equal(want, `http://vmcp-v.${ns.name}.svc.cluster.local:4483/mcp`);
  const { config } = await renderedConfig(kube, ns.name, "v");
  assert.equal(config.incomingAuth?.oidcConfig?.resourceUrl, want);
  // What the proxy builds from that config: it must start, and advertise the service URL.
  const auth = createIncomingAuth(config.incomingAuth);
  try {
    assert.equal(auth.metadata()?.resource, want);
  } finally {
    auth.close();
  }

  await patchSpec(kube, ns.name, "v", {
    incomingAuth: { oidcConfig: { resourceUrl: "https://mcp.example.com/mcp" } },
  });
  await reconcileOnce(kube, ns.name, "v");
  const again = await renderedConfig(kube, ns.name, "v");
  assert.equal(
    again.config.incomingAuth?.oidcConfig?.resourceUrl,
    "https://mcp.example.com/mcp",
    "a resourceUrl that is set is kept",
  );
});

Deno.test("opaque-token introspection renders the client secret as a secretKeyRef env var (never into the ConfigMap) and reports a missing Secret", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-introspect");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", {
      groupRef: { name: "g" },
      incomingAuth: {
        type: "oidc",
        oidcConfig: {
          type: "inline",
          inline: {
            issuer: "https://idp.example.test",
            audience: "vmcp",
            introspectionUrl: "https://idp.example.test/introspect",
            clientId: "vmcp",
            clientSecretRef: { name: "oidc-client", key: "secret" },
          },
        },
      },
    }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  let s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Failed");
  assert.equal(condition(s, "AuthConfigured")?.reason, "AuthInvalid");
  assert.match(condition(s, "AuthConfigured")!.message!, /Secret "oidc-client" not found/);

  await createAll(kube, [secret(ns.name, "oidc-client", { secret: "s3cr3t-value" })]);
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(
    condition(s, "AuthConfigured")?.status,
    "True",
    condition(s, "AuthConfigured")?.message ?? "",
  );
  const { config, text } = await renderedConfig(kube, ns.name, "v");
  assert.ok(!text.includes("s3cr3t-value"));
  const inline = config.incomingAuth!.oidcConfig!.inline!;
  assert.equal(inline.introspectionUrl, "https://idp.example.test/introspect");
  assert.equal(inline.clientSecretEnv, "VMCP_OIDC_CLIENT_SECRET");
  assert.equal(inline.clientSecretRef, undefined);
  const env = await containerEnv(kube, ns.name, "v");
  assert.deepEqual(env.find((e) => e.name === "VMCP_OIDC_CLIENT_SECRET")?.valueFrom, {
    secretKeyRef: { name: "oidc-client", key: "secret" },
  });
});

Deno.test("seed-era fields the API server keeps are refused with what to use instead: plain clientSecret, kubernetes jwksUrl/introspectionUrl, toolConfigRef", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-seed");
  const kube = testClient(cluster);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "plain",
      {
        incomingAuth: {
          type: "oidc",
          oidcConfig: {
            inline: { issuer: "https://idp.example.test", audience: "a", clientSecret: "x" },
          },
        },
      },
      /spec\.incomingAuth\.oidcConfig\.inline\.clientSecret: Plain-text client secrets are not accepted: put it in a Secret and set clientSecretRef/,
    ],
    [
      "k8s",
      {
        incomingAuth: {
          type: "oidc",
          oidcConfig: {
            type: "kubernetes",
            kubernetes: { jwksUrl: "https://k/jwks", introspectionUrl: "https://k/i" },
          },
        },
      },
      /spec\.incomingAuth\.oidcConfig\.kubernetes\.jwksUrl: Not supported: service-account tokens are checked by TokenReview[^\n]*use oidcConfig\.type "inline"[^]*kubernetes\.introspectionUrl: Not supported/,
    ],
    [
      "tcr",
      { aggregation: { tools: [{ workload: "a", toolConfigRef: { name: "my-tools" } }] } },
      /spec\.aggregation\.tools\[0\]\.toolConfigRef: Not supported: MCPToolConfig .* Write the tool filter and overrides inline/,
    ],
  ];
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    ...cases.map(([name, spec]) => vmcp(ns.name, name, { groupRef: { name: "g" }, ...spec })),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  for (const [name, , want] of cases) {
    await reconcileOnce(kube, ns.name, name);
    const s = (await getVmcp(kube, ns.name, name))!.status;
    assert.equal(s?.phase, "Failed", `${name}: ${s?.message ?? ""}`);
    assert.equal(condition(s, "Valid")?.reason, "ValidationFailed", name);
    assert.match(condition(s, "Valid")!.message!, want, name);
    assert.equal(await kube.get("apps/v1", "Deployment", ns.name, name), undefined, name);
  }
});

Deno.test("BackendsDiscovered is False with NoBackends for an empty group, False with BackendDiscoveryFailed for an unreadable member, and True once members are readable", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-discover");
  const kube = testClient(cluster);
  await createAll(kube, [group(ns.name, "g"), vmcp(ns.name, "v", { groupRef: { name: "g" } })]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  let c = condition((await getVmcp(kube, ns.name, "v"))!.status, "BackendsDiscovered");
  assert.deepEqual([c?.status, c?.reason], ["False", "NoBackends"]);
  assert.match(c!.message!, /MCPGroup "g" has no MCPServers/);

  // A relative URL passes the CRD's uri format but is no backend URL.
  await createAll(kube, [urlServer(ns.name, "bad", "g", { url: "/relative/mcp" })]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  c = condition((await getVmcp(kube, ns.name, "v"))!.status, "BackendsDiscovered");
  assert.deepEqual([c?.status, c?.reason], ["False", "BackendDiscoveryFailed"]);
  assert.match(c!.message!, /MCPServer bad: spec\.url/);

  await kube.patch({
    apiVersion: GV,
    kind: "MCPServer",
    metadata: { name: "bad", namespace: ns.name },
  }, { spec: { url: "http://bad.example.test:8080/mcp" } });
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  c = condition((await getVmcp(kube, ns.name, "v"))!.status, "BackendsDiscovered");
  assert.deepEqual([c?.status, c?.reason, c?.message], [
    "True",
    "BackendsDiscoveredSuccessfully",
    "Discovered 1 backends",
  ]);
});

async function writeDeploymentStatus(
  kube: KubeClient,
  ns: string,
  name: string,
  status: Record<string, unknown>,
) {
  const d = (await kube.get<Obj>("apps/v1", "Deployment", ns, name))!;
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const conditions = (status.conditions as Obj[] | undefined)?.map((c) => ({
    lastUpdateTime: now,
    lastTransitionTime: now,
    ...c,
  }));
  await kube.patchStatus({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
  }, {
    status: { observedGeneration: d.metadata!.generation, ...status, conditions },
  });
}

Deno.test("a Deployment that exceeds its progress deadline or cannot create pods makes Ready False with DeploymentFailed and the phase Failed; recovery makes it Ready", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-rollout");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", { groupRef: { name: "g" } }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");

  await writeDeploymentStatus(kube, ns.name, "v", {
    replicas: 1,
    unavailableReplicas: 1,
    conditions: [
      { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "x" },
      {
        type: "Progressing",
        status: "False",
        reason: "ProgressDeadlineExceeded",
        message: 'ReplicaSet "v-5d8f" has timed out progressing.',
      },
    ],
  });
  await reconcileOnce(kube, ns.name, "v");
  let s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Failed");
  assert.equal(condition(s, "Ready")?.reason, "DeploymentFailed");
  assert.match(
    s!.message!,
    /Deployment "v" failed to roll out: Progressing ProgressDeadlineExceeded: ReplicaSet "v-5d8f" has timed out progressing\./,
  );

  await writeDeploymentStatus(kube, ns.name, "v", {
    replicas: 1,
    availableReplicas: 1,
    readyReplicas: 1,
    conditions: [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "x" },
      { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: "x" },
      {
        type: "ReplicaFailure",
        status: "True",
        reason: "FailedCreate",
        message: 'pods "v-5d8f-abcde" is forbidden: exceeded quota: pods',
      },
    ],
  });
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Failed");
  assert.equal(condition(s, "Ready")?.reason, "DeploymentFailed");
  assert.match(
    s!.message!,
    /ReplicaFailure FailedCreate: .*exceeded quota.*previous rollout still serve/,
  );

  await markDeploymentAvailable(kube, ns.name, "v");
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Ready", s?.message ?? "");
  const events = await kube.list<Obj>("v1", "Event", ns.name);
  assert.ok(
    events.items.some((e) =>
      e.involvedObject?.name === "v" && e.reason === "PhaseFailed" && e.type === "Warning"
    ),
    "a Warning event records the failure",
  );
});
