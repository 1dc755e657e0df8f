/**
 * Aggregation (conflict resolution, filters, overrides) and operational settings schemas.
 * @module
 */
import { z } from "zod";
import { duration, SecretKeyRefSchema } from "./common.ts";

/** Request timeouts: long enough for a round trip, short enough for a timer (< 2^31 ms). */
const REQUEST_TIMEOUT = { min: "100ms", max: "24h" };

export const ToolOverrideSchema = z.strictObject({
  name: z.string().min(1).optional().describe("Name to advertise instead of the backend's."),
  description: z.string().optional().describe("Description to advertise instead of the backend's."),
});

export const WorkloadToolsSchema = z.strictObject({
  workload: z.string().min(1).describe("Backend (workload) name this entry applies to."),
  filter: z.array(z.string()).optional().describe(
    "Allow-list of tool names (after overrides) to advertise; empty advertises all.",
  ),
  overrides: z.record(z.string(), ToolOverrideSchema).optional().describe(
    "Renames and description changes keyed by the backend's original tool name.",
  ),
  excludeAll: z.boolean().default(false).describe(
    "Hide every tool of this backend (still routable for composite tools).",
  ),
  toolConfigRef: z.strictObject({
    name: z.string().min(1).describe("Name of the MCPToolConfig."),
  }).optional().describe(
    "Not supported (seed-era reference to an MCPToolConfig, a kind this operator does not serve): write the filter and overrides inline in this entry.",
  ),
});

export const AggregationSchema = z.strictObject({
  conflictResolution: z.enum(["prefix", "priority", "manual"]).default("prefix").describe(
    "How tool-name conflicts between backends are resolved.",
  ),
  conflictResolutionConfig: z.strictObject({
    prefixFormat: z.string().min(1).refine((s) => s.includes("{workload}"), {
      message: "must contain {workload}",
    }).default("{workload}_").describe("Prefix template; {workload} is the backend name."),
    priorityOrder: z.array(z.string()).optional().describe(
      "Backend names, highest priority first (strategy priority).",
    ),
  }).default({ prefixFormat: "{workload}_" }).describe("Settings of the chosen strategy."),
  tools: z.array(WorkloadToolsSchema).optional().describe("Per-backend filters and overrides."),
  excludeAllTools: z.boolean().default(false).describe(
    "Advertise no backend tools at all (composite tools only).",
  ),
}).describe("Tool aggregation and conflict resolution.");
export type Aggregation = z.infer<typeof AggregationSchema>;

/** Server-to-client input for 2026-07-28 clients (multi round-trip requests, ADR 0010 §4). */
export const InputRequiredSchema = z.strictObject({
  timeout: duration(
    "How long a call waiting for client input (an elicitation, sampling or roots request of a backend, sent to a 2026-07-28 client as input_required) waits for the client's retry; then an elicitation is answered cancel and the others fail. Also how long the requestState handed to the client stays valid.",
    { min: "1s", max: "24h" },
  ).default("10m"),
  maxPending: z.number().int().min(1).max(1_000_000).default(1000).describe(
    "Calls waiting for a 2026-07-28 client's input on one replica at most (from a backend's first request to the client until the call is answered, its retry window ends, or the client leaves); past it a backend's request gets JSON-RPC error -32603 naming this bound. Allowed: 1 to 1000000.",
  ),
  maxPendingPerIdentity: z.number().int().min(1).max(100_000).default(16).describe(
    "Calls of one identity waiting for its input at most (anonymous callers count as one identity), and requests one call may have waiting at once; past it a backend's request gets JSON-RPC error -32603 naming this bound. Allowed: 1 to 100000.",
  ),
  stateKeyRef: SecretKeyRefSchema.optional().describe(
    "Secret holding the key (at least 32 bytes) that signs requestState, rendered as env VMCP_REQUEST_STATE_KEY. Every replica needs the same key; without one each process makes its own and a retry on another replica is refused (condition RequestStateKeyMissing when replicas > 1).",
  ),
  previousStateKeyRef: SecretKeyRefSchema.optional().describe(
    "Secret holding the previous key during a rotation (env VMCP_REQUEST_STATE_KEY_PREVIOUS): states it signed are still accepted, new ones use stateKeyRef.",
  ),
}).describe("Calls that wait for a 2026-07-28 client's input (elicitation, sampling, roots).");
export type InputRequiredSettings = z.infer<typeof InputRequiredSchema>;

export const OperationalSchema = z.strictObject({
  timeouts: z.strictObject({
    default: duration("Timeout of every backend request.", REQUEST_TIMEOUT).default("30s"),
    perWorkload: z.record(z.string(), duration("Timeout for this backend.", REQUEST_TIMEOUT))
      .optional().describe(
        "Per-backend timeouts keyed by backend name.",
      ),
  }).default({ default: "30s" }).describe("Backend request timeouts, enforced on every call."),
  failureHandling: z.strictObject({
    healthCheckInterval: duration("Interval between backend health checks.", {
      zero: "no periodic checks",
      min: "100ms",
      max: "24h",
    }).default("30s"),
    healthCheckTimeout: duration("Timeout of one health check.", {
      zero: "the backend's request timeout",
      ...REQUEST_TIMEOUT,
    }).default("10s"),
    unhealthyThreshold: z.number().int().min(1).default(3).describe(
      "Consecutive failed checks before a backend is unhealthy.",
    ),
    partialFailureMode: z.enum(["fail", "best_effort"]).default("fail").describe(
      "fail: a request needing an unavailable backend fails; best_effort: serve what is available.",
    ),
    statusReportingInterval: duration(
      "Period of backend status reports to the VirtualMCPServer.",
      { min: "1s", max: "24h" },
    ).default("30s"),
    circuitBreaker: z.strictObject({
      enabled: z.boolean().default(false).describe("Enable the per-backend circuit breaker."),
      failureThreshold: z.number().int().min(1).default(5).describe(
        "Consecutive failures (calls or probes) that open the circuit.",
      ),
      timeout: duration("Time the circuit stays open before a half-open trial.", {
        min: "1s",
        max: "24h",
      }).default("60s"),
    }).default({ enabled: false, failureThreshold: 5, timeout: "60s" }).describe(
      "Circuit breaker fed by real call failures and health probes.",
    ),
  }).default({
    healthCheckInterval: "30s",
    healthCheckTimeout: "10s",
    unhealthyThreshold: 3,
    partialFailureMode: "fail",
    statusReportingInterval: "30s",
    circuitBreaker: { enabled: false, failureThreshold: 5, timeout: "60s" },
  }).describe("Health checks and failure handling."),
  logLevel: z.enum(["debug", "info", "warn", "error"]).optional().describe("Proxy log level."),
  inputRequired: InputRequiredSchema.optional().describe(
    "Calls waiting for a 2026-07-28 client's input (defaults apply without this block).",
  ),
}).describe("Timeouts and failure handling.");
export type Operational = z.infer<typeof OperationalSchema>;
