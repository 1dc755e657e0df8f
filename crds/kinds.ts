/**
 * Every custom resource kind vmcp defines, with its CRD metadata.
 * @module
 */
import type { KindDefinition } from "./to_crd.ts";
import { VirtualMCPServerSpecSchema, VirtualMCPServerStatusSchema } from "./virtualmcpserver.ts";
import {
  MCPExternalAuthConfigSpecSchema,
  MCPExternalAuthConfigStatusSchema,
  MCPGroupSpecSchema,
  MCPGroupStatusSchema,
  MCPServerSpecSchema,
  MCPServerStatusSchema,
} from "./backends.ts";
import { CompositeToolDefinitionStatusSchema, CompositeToolSpecSchema } from "./composite_tool.ts";

const age = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };
const ready = {
  name: "Ready",
  type: "string",
  jsonPath: ".status.conditions[?(@.type=='Ready')].status",
};

export const KINDS: KindDefinition[] = [
  {
    kind: "VirtualMCPServer",
    plural: "virtualmcpservers",
    singular: "virtualmcpserver",
    shortNames: ["vmcp", "virtualmcp"],
    description: "Aggregates the MCP servers of an MCPGroup behind one governed MCP endpoint.",
    spec: VirtualMCPServerSpecSchema,
    status: VirtualMCPServerStatusSchema,
    printerColumns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "URL", type: "string", jsonPath: ".status.url" },
      { name: "Backends", type: "integer", jsonPath: ".status.backendCount" },
      ready,
      age,
    ],
  },
  {
    kind: "MCPGroup",
    plural: "mcpgroups",
    singular: "mcpgroup",
    shortNames: ["mcpg"],
    description: "A logical group of MCPServers.",
    spec: MCPGroupSpecSchema,
    status: MCPGroupStatusSchema,
    specRequired: false,
    printerColumns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Servers", type: "integer", jsonPath: ".status.serverCount" },
      age,
    ],
  },
  {
    kind: "MCPServer",
    plural: "mcpservers",
    singular: "mcpserver",
    shortNames: ["mcps"],
    description: "An MCP server backend: a remote URL or an image vmcp runs.",
    spec: MCPServerSpecSchema,
    status: MCPServerStatusSchema,
    printerColumns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "URL", type: "string", jsonPath: ".status.url" },
      { name: "Transport", type: "string", jsonPath: ".spec.transport" },
      age,
    ],
  },
  {
    kind: "MCPExternalAuthConfig",
    plural: "mcpexternalauthconfigs",
    singular: "mcpexternalauthconfig",
    shortNames: ["extauth"],
    description: "How vmcp authenticates to the backends that reference it.",
    spec: MCPExternalAuthConfigSpecSchema,
    status: MCPExternalAuthConfigStatusSchema,
    printerColumns: [{ name: "Type", type: "string", jsonPath: ".spec.type" }, age],
  },
  {
    kind: "VirtualMCPCompositeToolDefinition",
    plural: "virtualmcpcompositetooldefinitions",
    singular: "virtualmcpcompositetooldefinition",
    shortNames: ["vmcpctd", "compositetool"],
    description: "A reusable multi-step workflow exposed as a tool by VirtualMCPServers.",
    spec: CompositeToolSpecSchema,
    status: CompositeToolDefinitionStatusSchema,
    printerColumns: [
      { name: "Validation", type: "string", jsonPath: ".status.validationStatus" },
      age,
    ],
  },
];
