/**
 * MCPGroup, MCPServer and MCPExternalAuthConfig: the backends a VirtualMCPServer aggregates
 * and how vmcp authenticates to them.
 * @module
 */
import { z } from "zod";
import { ConditionsSchema, LocalObjectRefSchema } from "./common.ts";
import { HeaderInjectionSchema, TokenExchangeSchema } from "./auth.ts";

export const MCPGroupSpecSchema = z.strictObject({
  description: z.string().optional().describe("What the group's servers are for."),
}).describe("A logical group of MCPServers; servers join through their own spec.groupRef.");

export const MCPGroupStatusSchema = z.object({
  phase: z.enum(["Pending", "Ready", "Failed"]).optional().describe("Group phase."),
  servers: z.array(z.string()).optional().describe("Names of the member MCPServers."),
  serverCount: z.number().int().optional().describe("Number of member MCPServers."),
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().optional().describe(
    "The metadata.generation this status describes.",
  ),
}).describe("Observed state of an MCPGroup.");

export const EnvVarSchema = z.strictObject({
  name: z.string().min(1).describe("Variable name."),
  value: z.string().optional().describe("Literal value."),
});

export const MCPServerSpecSchema = z.strictObject({
  groupRef: LocalObjectRefSchema.optional().describe("The MCPGroup this server belongs to."),
  url: z.string().url().optional().describe(
    "URL of an already running MCP server (remote backend). Mutually exclusive with image.",
  ),
  image: z.string().optional().describe(
    "Container image to run as the MCP server. Mutually exclusive with url.",
  ),
  transport: z.enum(["streamable-http", "sse", "stdio"]).default("streamable-http").describe(
    "Transport the server speaks. stdio (image only) runs behind a vmcp stdio-to-HTTP bridge.",
  ),
  port: z.number().int().min(1).max(65535).default(8080).describe(
    "Container port of an HTTP image server.",
  ),
  path: z.string().default("/mcp").describe("HTTP path of the MCP endpoint of an image server."),
  args: z.array(z.string()).optional().describe("Arguments for the server's container."),
  env: z.array(EnvVarSchema).optional().describe("Environment for the server's container."),
  externalAuthConfigRef: LocalObjectRefSchema.optional().describe(
    "MCPExternalAuthConfig describing how vmcp authenticates to this server.",
  ),
}).describe("An MCP server backend: a remote url or an image to run.").meta({
  "x-kubernetes-validations": [
    {
      rule: "has(self.url) != has(self.image)",
      message: "exactly one of url or image must be set",
    },
    {
      rule: "!has(self.url) || self.transport != 'stdio'",
      message: "transport stdio needs image, not url",
    },
  ],
});
export type MCPServerSpec = z.infer<typeof MCPServerSpecSchema>;

export const MCPServerStatusSchema = z.object({
  phase: z.enum(["Pending", "Running", "Ready", "Failed"]).optional().describe("Server phase."),
  url: z.string().optional().describe("URL vmcp uses to reach the server."),
  message: z.string().optional().describe("Detail about the phase."),
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().optional().describe(
    "The metadata.generation this status describes.",
  ),
}).describe("Observed state of an MCPServer.");

export const MCPExternalAuthConfigSpecSchema = z.strictObject({
  type: z.enum(["unauthenticated", "headerInjection", "tokenExchange"]).describe(
    "Strategy vmcp uses towards the backend.",
  ),
  headerInjection: HeaderInjectionSchema.optional().describe("Settings for headerInjection."),
  tokenExchange: TokenExchangeSchema.optional().describe("Settings for tokenExchange (RFC 8693)."),
}).describe("How vmcp authenticates to the backends that reference this object.").meta({
  "x-kubernetes-validations": [
    {
      rule: "self.type != 'headerInjection' || has(self.headerInjection)",
      message: "headerInjection settings are required for type headerInjection",
    },
    {
      rule: "self.type != 'tokenExchange' || has(self.tokenExchange)",
      message: "tokenExchange settings are required for type tokenExchange",
    },
  ],
});
export type MCPExternalAuthConfigSpec = z.infer<typeof MCPExternalAuthConfigSpecSchema>;

export const MCPExternalAuthConfigStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().optional().describe(
    "The metadata.generation this status describes.",
  ),
}).describe("Observed state of an MCPExternalAuthConfig.");
