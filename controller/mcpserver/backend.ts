/**
 * How the proxy reaches an MCPServer: one pure function shared by the MCPServer reconciler
 * (`status.url`) and the VirtualMCPServer config renderer (`backends[]`), so both always agree.
 * @module
 */
import type { MCPServerSpec } from "../../crds/backends.ts";
import { mcpServerWorkloadName } from "../meta.ts";

/** Path the stdio bridge (`vmcp --mode=proxy --stdio-bridge`) serves Streamable HTTP on. */
export const STDIO_BRIDGE_PATH = "/mcp";

export interface BackendEndpoint {
  /** Transport the proxy uses (stdio servers are reached over the bridge's Streamable HTTP). */
  transport: "streamable-http" | "sse";
  url: string;
}

/** Port the server's pod listens on (the bridge listens on the same `spec.port`). */
export function mcpServerPort(spec: MCPServerSpec): number {
  return spec.port ?? 8080;
}

/**
 * The endpoint of a server: a url server as written; an image server through its Service
 * `mcp-<name>`; a stdio image server through the bridge in its pod.
 */
export function mcpServerEndpoint(
  name: string,
  namespace: string,
  spec: MCPServerSpec,
): BackendEndpoint {
  const transport = spec.transport ?? "streamable-http";
  if (spec.url) {
    return { transport: transport === "sse" ? "sse" : "streamable-http", url: spec.url };
  }
  const host = `${mcpServerWorkloadName(name)}.${namespace}.svc.cluster.local`;
  if (transport === "stdio") {
    return {
      transport: "streamable-http",
      url: `http://${host}:${mcpServerPort(spec)}${STDIO_BRIDGE_PATH}`,
    };
  }
  const path = spec.path ?? "/mcp";
  return {
    transport,
    url: `http://${host}:${mcpServerPort(spec)}${path.startsWith("/") ? path : `/${path}`}`,
  };
}
