/**
 * The proxy's configuration: the VirtualMCPServer spec fields plus the resolved backend list.
 * The same schema validates a standalone `--config` file and the ConfigMap the controller
 * renders (pinned by a round-trip test).
 * @module
 */
import { z } from "zod";
import { LocalObjectRefSchema } from "./common.ts";
import { BackendAuthStrategySchema } from "./auth.ts";
import { VmcpCommonFields } from "./virtualmcpserver.ts";

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
  auth: BackendAuthStrategySchema.optional().describe(
    "The backend's own (discovered) outgoing auth strategy, already resolved.",
  ),
  authConfigRef: z.string().optional().describe("MCPExternalAuthConfig the auth came from."),
});
export type BackendConfig = z.infer<typeof BackendConfigSchema>;

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
  heartbeatSeconds: z.number().min(0).default(30).describe(
    "Seconds between SSE comments (`: ping`) on a client's idle GET stream, so load balancers keep it open; 0 turns them off.",
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
