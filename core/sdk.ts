/**
 * The one place vmcp imports the MCP SDK from.
 *
 * Under Deno the SDK's `.js` subpath imports resolve without their declarations and every
 * type silently becomes `any`. Each import below names its extensionless typed subpath so that
 * `deno check` type-checks all SDK use (proven by `core/sdk_test.ts`).
 * @module
 */

// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/index"
export { Server } from "npm:@modelcontextprotocol/sdk@1.32.2/server/index.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/mcp"
export { McpServer } from "npm:@modelcontextprotocol/sdk@1.32.2/server/mcp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp"
export { WebStandardStreamableHTTPServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/stdio"
export { StdioServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/stdio.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/index"
export { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/streamableHttp"
export {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "npm:@modelcontextprotocol/sdk@1.32.2/client/streamableHttp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/sse"
export { SSEClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/sse.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/stdio"
export {
  getDefaultEnvironment,
  StdioClientTransport,
} from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/sse"
export { SSEServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/sse.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/inMemory"
export { InMemoryTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/inMemory.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export * from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/shared/transport"
export type {
  Transport,
  TransportSendOptions,
} from "npm:@modelcontextprotocol/sdk@1.32.2/shared/transport.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/shared/protocol"
export type {
  RequestHandlerExtra,
  RequestOptions,
} from "npm:@modelcontextprotocol/sdk@1.32.2/shared/protocol.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/shared/uriTemplate"
export { UriTemplate } from "npm:@modelcontextprotocol/sdk@1.32.2/shared/uriTemplate.js";

// ---- v2 SDK (MCP 2026-07-28), ADR 0010. Prefixed so the two type worlds never mix. ----
export {
  classifyInboundRequest as classifyInboundRequestV2,
  createMcpHandler as createMcpHandlerV2,
  InMemoryServerEventBus as InMemoryServerEventBusV2,
  inputRequired as inputRequiredV2,
  isInputRequiredResult as isInputRequiredResultV2,
  McpServer as McpServerV2,
  ResourceTemplate as ResourceTemplateV2,
} from "npm:@modelcontextprotocol/server@2.4.0";
export {
  Client as ClientV2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransportV2,
} from "npm:@modelcontextprotocol/client@2.4.0";
export {
  SubscriptionsAcknowledgedNotificationSchema as SubscriptionsAcknowledgedNotificationSchemaV2,
  SubscriptionsListenRequestSchema as SubscriptionsListenRequestSchemaV2,
  SubscriptionsListenResultSchema as SubscriptionsListenResultSchemaV2,
} from "npm:@modelcontextprotocol/core@2.4.0";
export {
  type McpSubscription as McpSubscriptionV2,
  ProtocolError as ProtocolErrorV2,
} from "npm:@modelcontextprotocol/client@2.4.0";
export {
  acceptedContent as acceptedContentV2,
  completable as completableV2,
  createRequestStateCodec as createRequestStateCodecV2,
  fromJsonSchema as fromJsonSchemaV2,
  inputResponse as inputResponseV2,
  isLegacyRequest as isLegacyRequestV2,
  MissingRequiredClientCapabilityError as MissingRequiredClientCapabilityErrorV2,
  WebStandardStreamableHTTPServerTransport as WebStandardStreamableHTTPServerTransportV2,
} from "npm:@modelcontextprotocol/server@2.4.0";
