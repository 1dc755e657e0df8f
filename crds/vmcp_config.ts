/**
 * The proxy's configuration: the VirtualMCPServer spec fields plus the resolved backend list.
 * The same schema validates a standalone `--config` file and the ConfigMap the controller
 * renders (pinned by a round-trip test).
 * @module
 */
import { z } from "zod";
import { duration, LocalObjectRefSchema } from "./common.ts";
import { BackendAuthStrategySchema } from "./auth.ts";
import { VmcpCommonFields } from "./virtualmcpserver.ts";

/** How client sessions share a stdio backend's process (ADR 0006). */
export const StdioSettingsSchema = z.strictObject({
  mode: z.enum(["perSession", "shared"]).default("perSession").describe(
    "perSession: each client session gets its own process, started on its first use of the backend and ended with the session; messages the server sends on its own (sampling, elicitation, roots, log messages) go to that session. shared: one process for every session; such messages cannot be attributed to a session and are refused (requests) or dropped (log messages).",
  ),
  maxProcesses: z.number().int().min(1).max(10000).default(16).describe(
    "perSession: most client sessions with a process of their own at a time; a session beyond it gets a JSON-RPC error until another session ends. The one process vmcp keeps for discovery and health checks comes on top.",
  ),
});
export type StdioSettings = z.infer<typeof StdioSettingsSchema>;

export const BackendConfigSchema = z.strictObject({
  name: z.string().min(1).regex(/^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/, {
    message: "must start and end with a letter or digit and contain only letters, digits, . _ -",
  }).describe("Backend name; used for prefixes, routing and status."),
  transport: z.enum(["streamable-http", "sse", "stdio"]).default("streamable-http").describe(
    "How vmcp talks to the backend.",
  ),
  url: z.string().url().optional().describe("Backend URL (streamable-http and sse)."),
  command: z.string().min(1).optional().describe("Executable of a stdio backend."),
  args: z.array(z.string()).optional().describe("Arguments of a stdio backend."),
  env: z.record(z.string(), z.string()).optional().describe(
    "Extra environment of a stdio backend.",
  ),
  cwd: z.string().optional().describe("Working directory of a stdio backend."),
  stdio: StdioSettingsSchema.optional().describe(
    "Process isolation of a stdio backend (default: one process per client session, at most 16).",
  ),
  auth: BackendAuthStrategySchema.optional().describe(
    "The backend's own (discovered) outgoing auth strategy, already resolved.",
  ),
  authConfigRef: z.string().optional().describe("MCPExternalAuthConfig the auth came from."),
  protocol: z.enum(["auto", "legacy", "modern"]).optional().describe(
    "MCP protocol era vmcp speaks to the backend. auto (the default for streamable-http): a server/discover probe decides, again on every reconnect, health recovery and rediscovery; legacy (the default, and the only choice besides auto, for sse and stdio): 2025-11-25 sessions (initialize); modern: MCP 2026-07-28 only, stateless (streamable-http only).",
  ),
}).superRefine((b, ctx) => {
  if (b.protocol === "modern" && b.transport !== "streamable-http") {
    ctx.addIssue({
      code: "custom",
      path: ["protocol"],
      message:
        `"modern" needs transport "streamable-http", not "${b.transport}"; allowed for "${b.transport}": auto or legacy`,
    });
  }
  if (b.stdio && b.transport !== "stdio") {
    ctx.addIssue({
      code: "custom",
      path: ["stdio"],
      message: `Only allowed for transport "stdio", not "${b.transport}"`,
    });
  }
});
export type BackendConfig = z.infer<typeof BackendConfigSchema>;

/** Client connection bounds (core/http_server.ts): slow or idle clients cannot exhaust the proxy. */
export const ServerLimitsSchema = z.strictObject({
  maxConnections: z.number().int().min(1).max(1_000_000).optional().describe(
    "Open client connections at most; one more is answered 503 and closed. Default: 3/4 of the process's open-file limit, between 16 and 10000. Allowed: 1 to 1000000.",
  ),
  headerTimeout: duration(
    "Time a new connection has to send a complete request head; then it is closed.",
    { min: "100ms", max: "10m" },
  ).default("10s"),
  bodyTimeout: duration(
    "Time to receive a request body once the proxy reads it; then the connection is closed.",
    { min: "100ms", max: "1h" },
  ).default("30s"),
  idleTimeout: duration(
    "Time a keep-alive connection with nothing in flight stays open (it also bounds the wait for the next request head); above the 60s idle timeout of common load balancers by default.",
    { min: "100ms", max: "24h" },
  ).default("75s"),
});
export type ServerLimits = z.infer<typeof ServerLimitsSchema>;

export const ServerSettingsSchema = z.strictObject({
  host: z.string().default("127.0.0.1").describe("Listen address."),
  port: z.number().int().min(0).max(65535).default(4483).describe("Listen port."),
  maxBodyBytes: z.number().int().min(1024).default(4 * 1024 * 1024).describe(
    "Largest accepted request body; larger gets 413.",
  ),
  publicUrl: z.string().url().optional().describe(
    "Public base URL (protected-resource metadata); browser pages on its host may call /mcp.",
  ),
  allowedOrigins: z.array(z.string().min(1)).optional().describe(
    'Browser origins (e.g. "https://app.example.com", or "*" for any) allowed to call /mcp, besides the publicUrl host and, on a loopback listener, localhost. Requests without an Origin header are always allowed; others get 403 (DNS-rebinding defence).',
  ),
  heartbeatSeconds: z.number().min(0).max(3600).default(30).describe(
    "Seconds between SSE comments (`: ping`) on a client's idle GET stream, so load balancers keep it open; 0 turns them off. Allowed: 0 to 3600.",
  ),
  allowedHosts: z.array(
    z.string().regex(
      /^(\*|\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?)$/,
      'must be "*", a host name, "name:port", ".domain" or an IP address',
    ),
  ).optional().describe(
    'Host header values allowed on every path (DNS-rebinding defence), e.g. "mcp.example.com" (any port) or "mcp.example.com:8443" (that port only); "*" allows any. Always allowed besides: IP-literal hosts (kubelet probes, scrapers), localhost names, the server.publicUrl host, a listen address given as a name and, on a non-loopback listener, the machine hostname. Other hosts get 403. In-cluster the controller lists the Service names.',
  ),
  limits: ServerLimitsSchema.optional().describe(
    "Bounds on client connections (defaults apply without this block).",
  ),
});

export const VmcpConfigSchema = z.strictObject({
  name: z.string().min(1).describe("Name of this virtual MCP server."),
  namespace: z.string().optional().describe("Namespace of the VirtualMCPServer (in-cluster)."),
  ...VmcpCommonFields,
  groupRef: LocalObjectRefSchema.optional().describe("The MCPGroup the backends came from."),
  backends: z.array(BackendConfigSchema).default([]).describe("The backends to aggregate."),
  server: ServerSettingsSchema.optional().describe("Listener settings."),
}).describe("vmcp proxy configuration.");
export type VmcpConfig = z.infer<typeof VmcpConfigSchema>;
export type VmcpConfigInput = z.input<typeof VmcpConfigSchema>;
