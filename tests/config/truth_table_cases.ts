/**
 * The truth table of issue #15: configs on which `vmcp validate`, the proxy and the controller
 * once disagreed, and boundary configs all three must accept. `config` is merged into a
 * standalone proxy config (one backend "one"); `spec` (default: `config`) into a
 * VirtualMCPServer spec over a Ready group with the MCPServer "one" and a Secret "cache".
 */
import assert from "node:assert/strict";
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { RATE_LIMIT_CASES } from "./rate_limit_cases.ts";
import { OPTIMIZER_CASES } from "./optimizer_cases.ts";
import { authzFromConfig } from "../../proxy/authz/from_config.ts";

export interface TruthCase {
  name: string;
  config: Record<string, unknown>;
  spec?: Record<string, unknown>;
  /** Field path every place must name; undefined: the case is valid everywhere. */
  path?: string;
  /** The controller's path under `spec.` when it differs from `path`. */
  specPath?: string;
  /** The offending value each message must show, when there is one. */
  value?: unknown;
  /** Extra check of the problem line. */
  message?: RegExp;
  /**
   * The controller renders what a standalone file cannot have (e.g. `resourceUrl` = the
   * service URL): the in-cluster verdict is then "valid", checked on the rendered config.
   */
  inCluster?: { valid: true; check: (rendered: Record<string, unknown>) => void };
  /** Valid cases: what the proxy's loaded config must hold. */
  check?: (config: VmcpConfig) => void;
}

const oidc = (inline: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  incomingAuth: {
    type: "oidc",
    oidcConfig: {
      type: "inline",
      inline: { issuer: "https://idp.example.test", ...inline },
      ...extra,
    },
  },
});
const operational = (failureHandling: Record<string, unknown>, timeouts?: unknown) => ({
  operational: { failureHandling, ...(timeouts ? { timeouts } : {}) },
});
const workflow = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
  compositeTools: [{ name: "wf", description: "a workflow", steps, ...extra }],
});

const authz = (policies: string[]) => ({
  incomingAuth: { type: "anonymous", authzConfig: { type: "inline", inline: { policies } } },
});

/**
 * The proxy's authorization from `config` (proxy/authz/from_config.ts) reads a caller's groups
 * from `groupClaimName` and `roleClaimName` as `Group::` parents (`Group::"eng"` is permitted).
 */
function assertGroupOptionsUsed(config: VmcpConfig): void {
  const { gate } = authzFromConfig(config);
  assert.ok(gate, "authorization is on");
  const tool = { type: "Tool" as const, id: "t", backend: "one" };
  const allows = (sub: string, claims: Record<string, unknown>) =>
    gate.allows({ issuer: "i", subject: sub, claims: { sub, ...claims } }, "call_tool", tool);
  try {
    assert.equal(allows("a", { realm_access: { roles: ["eng"] } }), true, "groupClaimName");
    assert.equal(allows("b", { "https://example.com/roles": ["eng"] }), true, "roleClaimName");
    assert.equal(allows("c", { realm_access: { roles: ["ops"] } }), false);
  } finally {
    gate.dispose();
  }
}

/** The rendered config's backends (the controller renders one per MCPServer). */
const renderedBackends = (r: Record<string, unknown>) => r.backends as Record<string, unknown>[];

export const CASES: TruthCase[] = [
  {
    name: "backends[].protocol modern on an sse backend",
    config: {
      backends: [{
        name: "one",
        transport: "sse",
        url: "http://127.0.0.1:9/sse",
        protocol: "modern",
      }],
    },
    spec: {},
    path: "backends[0].protocol",
    value: "modern",
    message: /needs transport "streamable-http", not "sse"; allowed for "sse": auto or legacy/,
    // An MCPServer has no protocol field: the controller renders auto for Streamable HTTP.
    inCluster: {
      valid: true,
      check: (r) => assert.equal(renderedBackends(r)[0]!.protocol, "auto"),
    },
  },
  {
    name: "backends[].protocol modern on a stdio backend",
    config: {
      backends: [{ name: "one", transport: "stdio", command: "srv", protocol: "modern" }],
    },
    spec: {},
    path: "backends[0].protocol",
    value: "modern",
    message: /allowed for "stdio": auto or legacy/,
    inCluster: {
      valid: true,
      check: (r) => assert.equal(renderedBackends(r)[0]!.protocol, "auto"),
    },
  },
  {
    name: "backends[].protocol v2 (not an era)",
    config: {
      backends: [{ name: "one", url: "http://127.0.0.1:9/mcp", protocol: "v2" }],
    },
    spec: {},
    path: "backends[0].protocol",
    value: "v2",
    message: /auto|legacy|modern/,
    inCluster: {
      valid: true,
      check: (r) => assert.equal(renderedBackends(r)[0]!.protocol, "auto"),
    },
  },
  {
    name: "backends[].protocol modern on a streamable-http backend",
    config: {
      backends: [{ name: "one", url: "http://127.0.0.1:9/mcp", protocol: "modern" }],
    },
    spec: {},
    check: (c) => assert.equal(c.backends[0]!.protocol, "modern"),
  },
  {
    name: "OIDC inline without audience and without resourceUrl",
    config: oidc({}),
    path: "incomingAuth.oidcConfig.inline.audience",
    message: /Required unless oidcConfig\.resourceUrl/,
    // In a cluster the controller renders resourceUrl (the service URL), the proxy's audience.
    inCluster: {
      valid: true,
      check: (r) =>
        assert.equal(
          (r.incomingAuth as { oidcConfig: { resourceUrl?: string } }).oidcConfig.resourceUrl,
          "http://vmcp-v.ns.svc.cluster.local:4483/mcp",
        ),
    },
  },
  {
    name: "OIDC inline without audience but with resourceUrl (the audience it defaults to)",
    config: oidc({}, { resourceUrl: "https://vmcp.example.test/mcp" }),
  },
  {
    name: "sessionStorage.ttl 0s",
    config: { sessionStorage: { ttl: "0s" } },
    path: "sessionStorage.ttl",
    value: "0s",
    message: /1s to 720h/,
  },
  {
    name: "oidcConfig.inline.clockSkew 1h",
    config: oidc({ audience: "vmcp", clockSkew: "1h" }),
    path: "incomingAuth.oidcConfig.inline.clockSkew",
    value: "1h",
    message: /0s to 10m/,
  },
  {
    name: "tokenCache provider redis without an encryption key",
    config: { tokenCache: { provider: "redis", redis: { address: "redis:6379" } } },
    path: "tokenCache.redis.encryptionKeyEnv",
    specPath: "tokenCache.redis.encryptionKeyRef",
    message: /encrypted at rest/,
  },
  {
    name: "tokenCache provider redis with an encryption key",
    config: {
      tokenCache: {
        provider: "redis",
        redis: { address: "redis:6379", encryptionKeyEnv: "CACHE_KEY" },
      },
    },
    spec: {
      tokenCache: {
        provider: "redis",
        redis: { address: "redis:6379", encryptionKeyRef: { name: "cache", key: "k" } },
      },
    },
    check: (c) => assert.equal(c.tokenCache?.provider, "redis"),
  },
  {
    name: "tokenCache redis block without provider (defaults to memory)",
    config: { tokenCache: { redis: { address: "redis:6379", encryptionKeyEnv: "CACHE_KEY" } } },
    spec: {
      tokenCache: {
        redis: { address: "redis:6379", encryptionKeyRef: { name: "cache", key: "k" } },
      },
    },
    path: "tokenCache.redis",
    message: /set provider: redis/,
  },
  {
    name: "healthCheckInterval 597h",
    config: operational({ healthCheckInterval: "597h" }),
    path: "operational.failureHandling.healthCheckInterval",
    value: "597h",
    message: /0s \(no periodic checks\) or 100ms to 24h/,
  },
  {
    name: "healthCheckInterval 1ms",
    config: operational({ healthCheckInterval: "1ms" }),
    path: "operational.failureHandling.healthCheckInterval",
    value: "1ms",
  },
  {
    name: "timeouts.default 597h",
    config: operational({}, { default: "597h" }),
    path: "operational.timeouts.default",
    value: "597h",
    message: /100ms to 24h/,
  },
  {
    name: "timeouts.default 0s",
    config: operational({}, { default: "0s" }),
    path: "operational.timeouts.default",
    value: "0s",
  },
  {
    name: "timeouts.perWorkload 25h",
    config: operational({}, { perWorkload: { one: "25h" } }),
    path: "operational.timeouts.perWorkload.one",
    value: "25h",
  },
  {
    name: "circuitBreaker.timeout 500ms",
    config: operational({ circuitBreaker: { enabled: true, timeout: "500ms" } }),
    path: "operational.failureHandling.circuitBreaker.timeout",
    value: "500ms",
    message: /1s to 24h/,
  },
  {
    name: "every duration at its bounds, health checks off",
    config: {
      ...operational({ healthCheckInterval: "0s", healthCheckTimeout: "0s" }, {
        default: "100ms",
        perWorkload: { one: "24h" },
      }),
      sessionStorage: { ttl: "720h" },
      ...oidc({ audience: "vmcp", clockSkew: "10m" }),
    },
    check: (c) => assert.equal(c.operational?.failureHandling.healthCheckInterval, "0s"),
  },
  {
    name: "composite step with the typo dependson",
    config: workflow([{ id: "a", tool: "one.x" }, { id: "b", tool: "one.y", dependson: ["a"] }]),
    path: "compositeTools[0].steps[1].dependson",
    value: ["a"],
    message: /Unknown field/,
  },
  {
    name: "composite step with the typo conditon",
    config: workflow([{ id: "a", tool: "one.x", conditon: "{{true}}" }]),
    path: "compositeTools[0].steps[0].conditon",
    value: "{{true}}",
    message: /Unknown field/,
  },
  {
    name: "composite step timeout 0s",
    config: workflow([{ id: "a", tool: "one.x", timeout: "0s" }]),
    path: "compositeTools[0].steps[0].timeout",
    value: "0s",
  },
  {
    name: "composite retryDelay 2h",
    config: workflow([{
      id: "a",
      tool: "one.x",
      onError: { action: "retry", retryCount: 2, retryDelay: "2h" },
    }]),
    path: "compositeTools[0].steps[0].onError.retryDelay",
    value: "2h",
  },
  {
    name: "seed-era onError.maxRetries (an alias of retryCount)",
    config: workflow([{ id: "a", tool: "one.x", onError: { action: "retry", maxRetries: 3 } }]),
    check: (c) => assert.equal(c.compositeTools?.[0]?.steps[0]?.onError?.retryCount, 3),
  },
  {
    name: "onError with both maxRetries and retryCount",
    config: workflow([{
      id: "a",
      tool: "one.x",
      onError: { action: "retry", maxRetries: 3, retryCount: 2 },
    }]),
    path: "compositeTools[0].steps[0].onError.maxRetries",
    message: /set only retryCount/,
  },
  {
    name: "sessionStorage.address with provider memory",
    config: { sessionStorage: { address: "redis:6379" } },
    path: "sessionStorage.address",
    value: "redis:6379",
  },
  {
    name: "tokenExchange subjectTokenType the proxy does not know",
    config: {
      outgoingAuth: {
        source: "inline",
        backends: {
          one: {
            type: "tokenExchange",
            tokenExchange: {
              tokenUrl: "https://sts.example.test/token",
              audience: "one",
              subjectTokenType: "saml",
            },
          },
        },
      },
    },
    path: "outgoingAuth.backends.one.tokenExchange.subjectTokenType",
    value: "saml",
  },
  {
    name: "inputRequired.stateKeyRef in a standalone config",
    config: { operational: { inputRequired: { stateKeyRef: { name: "cache", key: "k" } } } },
    path: "operational.inputRequired.stateKeyRef",
    value: { name: "cache", key: "k" },
    message: /environment variable VMCP_REQUEST_STATE_KEY/,
    // In-cluster the reference becomes env VMCP_REQUEST_STATE_KEY; the config holds no ref.
    inCluster: {
      valid: true,
      check: (r) => {
        const op = r.operational as { inputRequired?: Record<string, unknown> };
        assert.ok(op.inputRequired && !("stateKeyRef" in op.inputRequired), JSON.stringify(op));
      },
    },
  },
  {
    name: "inputRequired.timeout 0s",
    config: { operational: { inputRequired: { timeout: "0s" } } },
    path: "operational.inputRequired.timeout",
    value: "0s",
    message: /1s to 24h/,
  },
  {
    name: "inputRequired.maxPendingPerIdentity 0",
    config: { operational: { inputRequired: { maxPendingPerIdentity: 0 } } },
    path: "operational.inputRequired.maxPendingPerIdentity",
    value: 0,
  },
  {
    name: "inputRequired block without fields (the defaults)",
    config: { operational: { inputRequired: {} } },
    check: (c) =>
      assert.deepEqual(c.operational?.inputRequired, {
        timeout: "10m",
        maxPending: 1000,
        maxPendingPerIdentity: 16,
      }),
  },
  {
    name: "authzConfig inline with Cedar policies (ToolHive's form)",
    config: authz([
      'permit(principal, action == Action::"call_tool", resource) when { principal.claim_groups.contains("eng") };',
    ]),
    check: (c) => {
      const inline = c.incomingAuth?.authzConfig?.inline;
      assert.equal(inline?.policies.length, 1);
      assert.equal(inline?.entitiesJson, "[]");
    },
  },
  {
    name: "authzConfig inline with a policy Cedar cannot parse",
    config: authz([
      "permit(principal, action, resource);",
      'permit(principal, action == Action::"call_tool", resource)\n  when { resource.name == };',
    ]),
    path: "incomingAuth.authzConfig.inline.policies[1]",
    message: /Invalid Cedar policy 1: line 2, column 27/,
  },
  {
    name: "authzConfig inline without policies",
    config: authz([]),
    path: "incomingAuth.authzConfig.inline.policies",
  },
  {
    name: "authzConfig inline with ToolHive's group claim options",
    config: {
      incomingAuth: {
        type: "anonymous",
        authzConfig: {
          type: "inline",
          inline: {
            policies: ['permit(principal in Group::"eng", action, resource);'],
            groupClaimName: "realm_access.roles",
            roleClaimName: "https://example.com/roles",
            groupEntityType: "Group",
          },
        },
      },
    },
    check: (c) => {
      const inline = c.incomingAuth?.authzConfig?.inline;
      assert.equal(inline?.groupClaimName, "realm_access.roles");
      assert.equal(inline?.roleClaimName, "https://example.com/roles");
      assert.equal(inline?.groupEntityType, "Group");
      assertGroupOptionsUsed(c);
    },
    // The controller renders them, and the proxy's authorization built from that uses them.
    inCluster: { valid: true, check: (r) => assertGroupOptionsUsed(r as VmcpConfig) },
  },
  {
    name: "authzConfig inline with a namespaced groupEntityType",
    config: {
      incomingAuth: {
        type: "anonymous",
        authzConfig: {
          type: "inline",
          inline: { policies: ["permit(principal, action, resource);"], groupEntityType: "A::B" },
        },
      },
    },
    path: "incomingAuth.authzConfig.inline.groupEntityType",
    message: /Not a plain Cedar identifier/,
  },
  {
    name: "telemetry tracingEnabled without an endpoint",
    config: { telemetry: { tracingEnabled: true } },
    path: "telemetry.endpoint",
    message: /Required when tracingEnabled or metricsEnabled/,
  },
  {
    name: "telemetry endpoint with tracing and metrics both off",
    config: { telemetry: { endpoint: "otel-collector:4318" } },
    path: "telemetry.endpoint",
    value: "otel-collector:4318",
    message: /unused/,
  },
  {
    name: "telemetry samplingRate above 1",
    config: {
      telemetry: { endpoint: "http://otel:4318", tracingEnabled: true, samplingRate: 1.5 },
    },
    path: "telemetry.samplingRate",
    value: 1.5,
  },
  {
    name: "telemetry endpoint with a gRPC-only scheme",
    config: { telemetry: { endpoint: "grpc://otel:4317", metricsEnabled: true } },
    path: "telemetry.endpoint",
    value: "grpc://otel:4317",
    message: /only http and https/,
  },
  {
    name: "telemetry host:port endpoint with insecure (ToolHive's form)",
    config: {
      telemetry: { endpoint: "otel-collector:4318", insecure: true, tracingEnabled: true },
    },
    check: (c) =>
      assert.deepEqual(c.telemetry, {
        endpoint: "otel-collector:4318",
        insecure: true,
        tracingEnabled: true,
        metricsEnabled: false,
        samplingRate: 0.05,
      }),
    // In a cluster the spans name the VirtualMCPServer unless serviceName is given.
    inCluster: {
      valid: true,
      check: (r) => assert.equal((r.telemetry as { serviceName?: string }).serviceName, "v"),
    },
  },
  {
    name: "audit block without fields (off, the defaults)",
    config: { audit: {} },
    check: (c) =>
      assert.deepEqual(c.audit, {
        enabled: false,
        includeRequestData: false,
        maxDataSize: 1024,
        output: "stderr",
        maxBufferedEvents: 10_000,
      }),
    inCluster: {
      valid: true,
      check: (r) => assert.equal((r.audit as { maxDataSize?: number }).maxDataSize, 1024),
    },
  },
  {
    name: "audit output file without filePath",
    config: { audit: { enabled: true, output: "file" } },
    path: "audit.filePath",
    message: /Required with output "file"/,
  },
  {
    name: "audit eventTypes with a type the proxy does not know",
    config: { audit: { enabled: true, eventTypes: ["mcp_tool_call", "mcp_everything"] } },
    path: "audit.eventTypes[1]",
    value: "mcp_everything",
    message: /allowed: "session_opened"/,
  },
  ...RATE_LIMIT_CASES,
  ...OPTIMIZER_CASES,
];
