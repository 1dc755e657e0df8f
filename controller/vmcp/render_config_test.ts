import assert from "node:assert/strict";
import YAML from "yaml";
import { VirtualMCPServerSpecSchema } from "../../crds/virtualmcpserver.ts";
import { MCPExternalAuthConfigSpecSchema, MCPServerSpecSchema } from "../../crds/backends.ts";
import { CompositeToolSpecSchema } from "../../crds/composite_tool.ts";
import { validateConfig } from "../../core/config/load.ts";
import { configYaml, type RenderInput, renderProxyConfig, sha256 } from "./render_config.ts";

const composite = (name: string) => ({
  name,
  description: `the ${name} workflow`,
  parameters: { type: "object", properties: { q: { type: "string", default: "on" } } },
  timeout: "10m",
  steps: [
    {
      id: "one",
      tool: "github.search",
      arguments: { q: "{{.params.q}}", n: 3 },
      onError: { action: "retry", retryCount: 2, retryDelay: "1s" },
    },
    {
      id: "ask",
      type: "elicitation",
      message: "ok?",
      schema: { type: "object" },
      dependsOn: ["one"],
      onDecline: { action: "skip_remaining" },
    },
  ],
  output: {
    properties: { r: { type: "string", value: "{{.steps.one.output.text}}", default: "none" } },
    required: ["r"],
  },
  annotations: { title: "T", readOnlyHint: true },
});

/** A spec that sets every field the CRD has (except podTemplateSpec/replicas/image/serviceType, which are not proxy config). */
const fullSpec = {
  groupRef: { name: "g" },
  incomingAuth: {
    type: "oidc",
    oidcConfig: {
      type: "inline",
      inline: {
        issuer: "https://issuer.example.test",
        audience: "vmcp",
        jwksUrl: "https://issuer.example.test/jwks",
        clientId: "vmcp-client",
        clientSecretRef: { name: "oidc", key: "secret" },
        allowedAlgorithms: ["RS256", "ES256"],
        clockSkew: "45s",
        scopes: ["openid", "profile"],
      },
      resourceUrl: "https://vmcp.example.test/mcp",
    },
  },
  outgoingAuth: {
    source: "mixed",
    default: { type: "externalAuthConfigRef", externalAuthConfigRef: { name: "hdr" } },
    backends: {
      github: {
        type: "tokenExchange",
        tokenExchange: {
          tokenUrl: "https://sts.example.test/token",
          clientId: "c",
          clientSecretRef: { name: "sts", key: "cs" },
          audience: "gh",
          scopes: ["repo"],
          subjectTokenType: "id_token",
          externalTokenHeaderName: "X-Token",
        },
      },
      fetch: {
        type: "headerInjection",
        headerInjection: { headerName: "X-Key", valueEnv: "FETCH_KEY" },
      },
    },
  },
  aggregation: {
    conflictResolution: "priority",
    conflictResolutionConfig: { prefixFormat: "{workload}__", priorityOrder: ["github", "fetch"] },
    tools: [{
      workload: "github",
      filter: ["search"],
      overrides: { search: { name: "gh_search", description: "on" } },
      excludeAll: false,
    }],
    excludeAllTools: false,
  },
  tokenCache: {
    provider: "redis",
    memory: { maxEntries: 10, ttlOffset: "1m" },
    redis: {
      address: "redis:6379",
      db: 2,
      keyPrefix: "t:",
      passwordRef: { name: "redis", key: "pw" },
      tls: true,
      encryptionKeyRef: { name: "cache", key: "k" },
      ttlOffset: "2m",
    },
  },
  operational: {
    timeouts: { default: "20s", perWorkload: { github: "60s" } },
    failureHandling: {
      healthCheckInterval: "15s",
      healthCheckTimeout: "5s",
      unhealthyThreshold: 4,
      partialFailureMode: "best_effort",
      statusReportingInterval: "10s",
      circuitBreaker: { enabled: true, failureThreshold: 7, timeout: "90s" },
    },
    logLevel: "debug",
    inputRequired: {
      timeout: "5m",
      maxPending: 50,
      maxPendingPerIdentity: 4,
      stateKeyRef: { name: "mrtr", key: "current" },
      previousStateKeyRef: { name: "mrtr", key: "previous" },
    },
  },
  compositeTools: [composite("inline_flow")],
  compositeToolRefs: [{ name: "shared-flow" }],
  sessionStorage: {
    provider: "redis",
    address: "redis:6379",
    db: 1,
    keyPrefix: "s:",
    passwordRef: { name: "redis", key: "pw" },
    ttl: "1h",
  },
};

function input(spec: unknown = fullSpec): RenderInput {
  return {
    name: "v",
    namespace: "ns",
    spec: VirtualMCPServerSpecSchema.parse(spec),
    servers: [
      {
        name: "github",
        spec: MCPServerSpecSchema.parse({
          groupRef: { name: "g" },
          url: "https://gh.example.test/mcp",
          externalAuthConfigRef: { name: "hdr" },
        }),
      },
      {
        name: "fetch",
        spec: MCPServerSpecSchema.parse({
          groupRef: { name: "g" },
          image: "fetch:1",
          transport: "stdio",
          port: 9000,
        }),
      },
      {
        name: "sse-one",
        spec: MCPServerSpecSchema.parse({
          groupRef: { name: "g" },
          image: "s:1",
          transport: "sse",
          path: "/sse",
        }),
      },
    ],
    authConfigs: new Map([[
      "hdr",
      MCPExternalAuthConfigSpecSchema.parse({
        type: "headerInjection",
        headerInjection: { headerName: "X-Api-Key", valueSecretRef: { name: "api", key: "key" } },
      }),
    ]]),
    compositeDefs: new Map([[
      "shared-flow",
      CompositeToolSpecSchema.parse(composite("shared_flow")),
    ]]),
  };
}

/** Every leaf path (`a.b[0].c`) and its value. */
function leaves(v: unknown, path = "", out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  } else out.set(path, v);
  return out;
}

Deno.test("renderProxyConfig() output survives YAML and the proxy loader with every spec field intact (refs resolved, secrets as env names)", () => {
  const r = renderProxyConfig(input());
  assert.deepEqual([r.authProblems, r.compositeProblems, r.configProblems], [[], [], []]);
  const text = configYaml(r.config);
  const { config, problems } = validateConfig(YAML.parse(text, { version: "1.1" }), {
    standalone: false,
  });
  assert.deepEqual(problems, []);
  const spec = VirtualMCPServerSpecSchema.parse(fullSpec);
  const parsed = leaves(config);
  // Fields the renderer transforms on purpose, and what they become:
  const transformed: Record<string, (p: Map<string, unknown>) => void> = {
    "incomingAuth.oidcConfig.inline.clientSecretRef": (p) =>
      assert.equal(
        p.get("incomingAuth.oidcConfig.inline.clientSecretEnv"),
        "VMCP_OIDC_CLIENT_SECRET",
      ),
    "outgoingAuth.default": (p) => {
      assert.equal(p.get("outgoingAuth.default.type"), "headerInjection");
      assert.equal(p.get("outgoingAuth.default.headerInjection.headerName"), "X-Api-Key");
      assert.equal(
        p.get("outgoingAuth.default.headerInjection.valueEnv"),
        "VMCP_SECRET_DEFAULT_HEADER_VALUE",
      );
    },
    "outgoingAuth.backends.github.tokenExchange.clientSecretRef": (p) =>
      assert.equal(
        p.get("outgoingAuth.backends.github.tokenExchange.clientSecretEnv"),
        "VMCP_SECRET_GITHUB_CLIENT_SECRET",
      ),
    "tokenCache.redis.passwordRef": (p) =>
      assert.equal(p.get("tokenCache.redis.passwordEnv"), "VMCP_TOKEN_CACHE_REDIS_PASSWORD"),
    "tokenCache.redis.encryptionKeyRef": (p) =>
      assert.equal(p.get("tokenCache.redis.encryptionKeyEnv"), "VMCP_TOKEN_CACHE_ENCRYPTION_KEY"),
    "sessionStorage.passwordRef": (p) =>
      assert.equal(p.get("sessionStorage.passwordEnv"), "VMCP_SESSION_REDIS_PASSWORD"),
    // The requestState keys reach the proxy only as env (fixed names, see the env list).
    "operational.inputRequired.stateKeyRef": (p) =>
      assert.equal(p.has("operational.inputRequired.stateKeyRef.name"), false),
    "operational.inputRequired.previousStateKeyRef": (p) =>
      assert.equal(p.has("operational.inputRequired.previousStateKeyRef.name"), false),
    "compositeToolRefs": (p) => assert.equal(p.get("compositeTools[1].name"), "shared_flow"),
  };
  const seen = new Set<string>();
  const deploymentOnly = ["serviceType", "podTemplateSpec", "replicas", "image"];
  for (const [path, value] of leaves(spec)) {
    if (deploymentOnly.some((k) => path === k || path.startsWith(`${k}.`))) continue;
    const t = Object.keys(transformed).find((k) =>
      path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`)
    );
    if (t) {
      seen.add(t);
      continue;
    }
    assert.ok(parsed.has(path), `${path} is in the parsed config`);
    assert.deepEqual(parsed.get(path), value, `${path} keeps its value`);
  }
  for (const [k, check] of Object.entries(transformed)) {
    assert.ok(seen.has(k), `the fixture sets ${k}`);
    check(parsed);
  }
  assert.deepEqual(
    config!.compositeTools![1],
    CompositeToolSpecSchema.parse(composite("shared_flow")),
  );
  assert.equal(
    text.includes("secretRef") || text.includes("SecretRef") || text.includes("passwordRef"),
    false,
    "no Secret reference in the ConfigMap",
  );
});

Deno.test("renderProxyConfig() resolves backends: url as-is, image through its Service, stdio behind the bridge, discovered auth inline", () => {
  const r = renderProxyConfig(input());
  const backends = r.config.backends as Record<string, unknown>[];
  assert.deepEqual(backends.map((b) => [b.name, b.transport, b.url]), [
    ["fetch", "streamable-http", "http://mcp-fetch.ns.svc.cluster.local:9000/mcp"],
    ["github", "streamable-http", "https://gh.example.test/mcp"],
    ["sse-one", "sse", "http://mcp-sse-one.ns.svc.cluster.local:8080/sse"],
  ]);
  // github has an explicit outgoingAuth.backends entry, which wins: its own reference is unused.
  assert.equal(backends[1]!.auth, undefined);
  assert.equal(backends[1]!.authConfigRef, undefined);
  assert.deepEqual(r.env.map((e) => [e.name, e.secretRef.name, e.secretRef.key]), [
    ["VMCP_OIDC_CLIENT_SECRET", "oidc", "secret"],
    ["VMCP_SECRET_DEFAULT_HEADER_VALUE", "api", "key"],
    ["VMCP_SECRET_GITHUB_CLIENT_SECRET", "sts", "cs"],
    ["VMCP_TOKEN_CACHE_REDIS_PASSWORD", "redis", "pw"],
    ["VMCP_TOKEN_CACHE_ENCRYPTION_KEY", "cache", "k"],
    ["VMCP_REQUEST_STATE_KEY", "mrtr", "current"],
    ["VMCP_REQUEST_STATE_KEY_PREVIOUS", "mrtr", "previous"],
    ["VMCP_SESSION_REDIS_PASSWORD", "redis", "pw"],
  ]);
  const { backends: _, ...rest } = input().spec.outgoingAuth!;
  const discovered = renderProxyConfig(input({ ...input().spec, outgoingAuth: rest }));
  assert.deepEqual((discovered.config.backends as Record<string, unknown>[])[1]!.auth, {
    type: "headerInjection",
    headerInjection: { headerName: "X-Api-Key", valueEnv: "VMCP_SECRET_GITHUB_HEADER_VALUE" },
  });
  assert.equal((discovered.config.backends as Record<string, unknown>[])[1]!.authConfigRef, "hdr");
});

Deno.test("renderProxyConfig() reports a missing MCPExternalAuthConfig and a missing composite definition by field", () => {
  const i = input();
  const { backends: _, ...outgoingAuth } = i.spec.outgoingAuth!;
  const r = renderProxyConfig({
    ...i,
    spec: { ...i.spec, outgoingAuth },
    authConfigs: new Map(),
    compositeDefs: new Map(),
  });
  assert.deepEqual(r.authProblems.map((p) => p.path), [
    "outgoingAuth.default.externalAuthConfigRef.name",
    "MCPServer github: spec.externalAuthConfigRef.name",
  ]);
  assert.deepEqual(r.compositeProblems.map((p) => p.path), ["compositeToolRefs[0].name"]);
  assert.match(r.compositeProblems[0]!.message, /"shared-flow" not found/);
});

Deno.test("configYaml() is deterministic and its checksum changes only with the content", () => {
  const a = configYaml(renderProxyConfig(input()).config);
  const b = configYaml(renderProxyConfig(input()).config);
  assert.equal(a, b);
  assert.equal(sha256(a), sha256(b));
  const other = configYaml(
    renderProxyConfig(input({ ...fullSpec, operational: { logLevel: "info" } })).config,
  );
  assert.notEqual(sha256(a), sha256(other));
  const tricky = { x: "on", y: "0755", z: "yes" };
  assert.deepEqual(
    YAML.parse(configYaml(tricky), { version: "1.1" }),
    tricky,
    "YAML 1.1 look-alikes stay strings",
  );
});

Deno.test("renderProxyConfig() of the minimal spec renders a valid config with no auth sections", () => {
  const r = renderProxyConfig({ ...input({ groupRef: { name: "g" } }), servers: [] });
  assert.deepEqual(r.configProblems, []);
  assert.deepEqual(Object.keys(r.config).sort(), [
    "backends",
    "groupRef",
    "name",
    "namespace",
    "server",
  ]);
});
