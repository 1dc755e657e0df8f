/**
 * The VirtualMCPServer custom resource: spec, status and the object shape.
 * @module
 */
import { z } from "zod";
import { ConditionsSchema, duration, LocalObjectRefSchema, SecretKeyRefSchema } from "./common.ts";
import { IncomingAuthSchema, OutgoingAuthSchema, TokenCacheSchema } from "./auth.ts";
import { AggregationSchema, OperationalSchema } from "./aggregation.ts";
import { CompositeToolSpecSchema } from "./composite_tool.ts";
import { OptimizerSchema } from "./optimizer.ts";
import { AuditConfigSchema } from "./audit.ts";
import { RateLimitingSchema } from "./rate_limit.ts";
import { TelemetryConfigSchema } from "./telemetry.ts";

export const SessionStorageSchema = z.strictObject({
  provider: z.enum(["memory", "redis"]).default("memory").describe(
    "Where session state lives; redis lets any replica serve any session.",
  ),
  address: z.string().optional().describe(
    "Redis host:port (required for redis; an error with provider memory).",
  ),
  db: z.number().int().min(0).default(0).describe("Redis database number."),
  keyPrefix: z.string().default("vmcp:session:").describe("Prefix of session keys."),
  passwordRef: SecretKeyRefSchema.optional().describe("Secret holding the Redis password."),
  passwordEnv: z.string().optional().describe("Environment variable holding the Redis password."),
  ttl: duration("Sliding idle time-to-live of a session.", { min: "1s", max: "720h" })
    .default("30m"),
  maxLocalSessions: z.number().int().min(1).default(1000).describe(
    "Live sessions one replica holds in memory. Past it, the least recently used idle session (no open GET stream, no request in flight) is closed locally; its state stays in the store and its next request restores it. Sessions with a stream or a request in flight are never closed for this.",
  ),
  maxSessions: z.number().int().min(1).default(10_000).describe(
    "Live sessions in the store (with redis: all replicas together). A new session past it is refused with HTTP 503, Retry-After and JSON-RPC error -32004 naming the limit.",
  ),
  maxSessionsPerIdentity: z.number().int().min(1).default(100).describe(
    "Live sessions one authenticated identity (issuer + subject) may hold. A new session past it is refused with HTTP 429, Retry-After and JSON-RPC error -32004 naming the limit. Anonymous sessions count only against maxSessions.",
  ),
  initTtl: duration(
    "Time-to-live of a new session until its first request (a JSON-RPC request or response, or an opened GET stream; notifications do not count). Sessions abandoned after initialize expire after it; afterwards ttl applies. Capped at ttl.",
    { min: "1s", max: "720h" },
  ).default("2m"),
}).describe("Session state storage (scale-out).");

/** Fields shared by the CRD spec and the standalone/rendered proxy config. */
export const VmcpCommonFields = {
  groupRef: LocalObjectRefSchema.describe(
    "The MCPGroup (same namespace) whose MCPServers are aggregated. It must exist and be Ready.",
  ),
  incomingAuth: IncomingAuthSchema.optional(),
  outgoingAuth: OutgoingAuthSchema.optional(),
  aggregation: AggregationSchema.optional(),
  tokenCache: TokenCacheSchema.optional(),
  operational: OperationalSchema.optional(),
  compositeTools: z.array(CompositeToolSpecSchema).optional().describe(
    "Multi-step workflows exposed as tools.",
  ),
  compositeToolRefs: z.array(LocalObjectRefSchema).optional().describe(
    "VirtualMCPCompositeToolDefinitions (same namespace) to expose as tools.",
  ),
  sessionStorage: SessionStorageSchema.optional(),
  audit: AuditConfigSchema.optional(),
  rateLimiting: RateLimitingSchema.optional(),
  telemetry: TelemetryConfigSchema.optional(),
  optimizer: OptimizerSchema.optional(),
};

export const VirtualMCPServerSpecSchema = z.strictObject({
  ...VmcpCommonFields,
  serviceType: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default("ClusterIP").describe(
    "Kubernetes Service type of the endpoint.",
  ),
  podTemplateSpec: z.record(z.string(), z.unknown()).optional().describe(
    "PodTemplateSpec strategically merged over the generated pod; its container must be named vmcp.",
  ).meta({ "x-kubernetes-preserve-unknown-fields": true }),
  replicas: z.number().int().min(0).optional().describe(
    "Proxy replicas. Unset leaves the count to an autoscaler (1 on creation).",
  ),
  image: z.string().optional().describe(
    "Proxy image; defaults to the operator's own image (--proxy-image / VMCP_IMAGE).",
  ),
}).describe("Desired state of a VirtualMCPServer.");
export type VirtualMCPServerSpec = z.infer<typeof VirtualMCPServerSpecSchema>;

export const DiscoveredBackendSchema = z.object({
  name: z.string().describe("Backend name (the MCPServer name)."),
  url: z.string().optional().describe("URL vmcp uses to reach the backend."),
  transport: z.string().optional().describe("streamable-http, sse or stdio."),
  status: z.enum(["ready", "degraded", "unavailable", "unknown", "unauthenticated"]).describe(
    "Health as seen by the proxy.",
  ),
  authType: z.string().optional().describe("Outgoing auth strategy used for the backend."),
  authConfigRef: z.string().optional().describe("MCPExternalAuthConfig the strategy came from."),
  lastHealthCheck: z.string().optional().describe("Time of the last health check (RFC 3339)."),
  message: z.string().optional().describe("Detail, e.g. why the backend is unavailable."),
  circuitBreakerState: z.enum(["closed", "open", "half-open"]).optional().describe(
    "Circuit breaker state.",
  ),
  consecutiveFailures: z.number().int().optional().describe("Consecutive failed calls or checks."),
  toolCount: z.number().int().optional().describe("Tools the backend offers."),
});
export type DiscoveredBackend = z.infer<typeof DiscoveredBackendSchema>;

const CollisionClaimantSchema = z.object({
  backend: z.string().describe("Backend name."),
  originalName: z.string().describe("The backend's own tool or prompt name."),
});

export const NameCollisionSchema = z.object({
  kind: z.enum(["tool", "prompt"]).describe("tool or prompt."),
  name: z.string().describe("The advertised name several backends' tools (or prompts) claim."),
  kept: CollisionClaimantSchema.optional().describe(
    "Who keeps the name: the claimant whose backend name sorts first, then original name (absent under conflictResolution manual: every claimant is dropped).",
  ),
  dropped: z.array(CollisionClaimantSchema).describe(
    "Claimants not advertised (composite tools still reach them as backend.originalName).",
  ),
});
export type NameCollisionStatus = z.infer<typeof NameCollisionSchema>;

export const VirtualMCPServerStatusSchema = z.object({
  phase: z.enum(["Pending", "Ready", "Degraded", "Failed"]).optional().describe(
    "Lifecycle phase derived from the conditions: Pending (waiting for the group or the pods), Ready, Degraded (a backend is unavailable), Failed (invalid configuration, or the Deployment's rollout failed: Ready reason DeploymentFailed).",
  ),
  message: z.string().optional().describe("Human-readable summary of the phase."),
  conditions: ConditionsSchema.optional(),
  url: z.string().optional().describe("Service URL for clients (append /mcp)."),
  discoveredBackends: z.array(DiscoveredBackendSchema).optional().describe(
    "Backends and their health, reported by the proxy.",
  ).meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
  backendCount: z.number().int().optional().describe("Backends currently routable."),
  nameCollisions: z.array(NameCollisionSchema).optional().describe(
    "Tool and prompt names still claimed by several backends after conflict resolution, reported by the proxy (condition ToolNameConflicts).",
  ),
  observedGeneration: z.number().int().optional().describe(
    "The metadata.generation this status describes.",
  ),
}).describe("Observed state of a VirtualMCPServer.");
export type VirtualMCPServerStatus = z.infer<typeof VirtualMCPServerStatusSchema>;
