/**
 * Composite tools (multi-step workflows): the schema shared by `spec.config.compositeTools[]`
 * entries and the `VirtualMCPCompositeToolDefinition` spec, plus that resource's status.
 *
 * Written to convert into a Kubernetes structural schema: no unions of objects, free-form
 * JSON objects are records of unknown, and the recursive parts (forEach inner step, nested
 * output properties) are non-recursive here and checked in depth by
 * `core/composite/validate.ts`.
 * @module
 */

import { z } from "zod";
import { duration } from "./common.ts";

/** Step and iteration timeouts (a timer holds at most 2^31−1 ms). */
const STEP_TIMEOUT = { min: "100ms", max: "24h" };

const jsonObject = (what: string) => z.record(z.string(), z.unknown()).describe(what);

/** Step ids: reachable from templates as `.steps.<id>` (hyphens allowed). */
export const STEP_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
/** Tool references: an advertised name or `<backend>.<originalToolName>`. */
export const TOOL_REF_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

export const StepErrorHandlingSchema = z.strictObject({
  action: z.enum(["abort", "continue", "retry"]).default("abort").describe(
    "What to do when the step fails: abort the workflow, continue (the step's defaultResults " +
      "become its output), or retry with exponential backoff",
  ),
  retryCount: z.number().int().min(1).max(10).optional().describe(
    "Retries after the first attempt (1 to 10); required when action is retry",
  ),
  retryDelay: duration(
    "Delay before the first retry; doubles on each retry up to 60 times this value. Default 1s.",
    { min: "10ms", max: "1h" },
  ).optional(),
  maxRetries: z.number().int().min(1).max(10).optional().describe(
    "Seed-era name of retryCount, accepted as an alias (read as retryCount); setting both is " +
      "an error",
  ),
}).refine((h) => h.maxRetries === undefined || h.retryCount === undefined, {
  message: "maxRetries is the seed-era name of retryCount; set only retryCount",
  path: ["maxRetries"],
}).transform(({ maxRetries, ...h }) =>
  maxRetries === undefined ? h : { ...h, retryCount: h.retryCount ?? maxRetries }
).describe("Error handling for a step. Default: abort");
export type StepErrorHandling = z.infer<typeof StepErrorHandlingSchema>;

export const ElicitationResponseSchema = z.strictObject({
  action: z.enum(["skip_remaining", "abort", "continue"]).default("abort").describe(
    "abort fails the workflow; continue carries on with the next steps; skip_remaining marks " +
      "every step that has not started as skipped and finishes the workflow successfully",
  ),
}).describe("What to do when the user declines or cancels an elicitation");
export type ElicitationResponse = z.infer<typeof ElicitationResponseSchema>;

export const ForEachInnerStepSchema = z.strictObject({
  id: z.string().optional().describe("Optional name of the inner step (for messages only)"),
  type: z.enum(["tool"]).default("tool").describe("Inner steps must be tool steps"),
  tool: z.string().regex(TOOL_REF_PATTERN).describe(
    "Tool to call for each item: an advertised tool name or <backend>.<originalToolName>",
  ),
  arguments: jsonObject(
    "Tool arguments; string values are templates that can read .forEach.<itemVar> and " +
      ".forEach.index besides .params and .steps",
  ).optional(),
  onError: StepErrorHandlingSchema.optional().describe(
    "Per-iteration error handling: abort fails the forEach step at the first failed item; " +
      "continue records failed items and goes on; retry retries the item",
  ),
  timeout: duration("Timeout of each iteration. Default: the forEach step's timeout.", STEP_TIMEOUT)
    .optional(),
}).describe("The tool step run for every item of a forEach collection");
export type ForEachInnerStep = z.infer<typeof ForEachInnerStepSchema>;

export const WorkflowStepSchema = z.strictObject({
  id: z.string().min(1).max(128).regex(STEP_ID_PATTERN).describe(
    "Unique step id; templates read the step as .steps.<id>",
  ),
  type: z.enum(["tool", "elicitation", "forEach"]).default("tool").describe("Kind of step"),
  tool: z.string().regex(TOOL_REF_PATTERN).optional().describe(
    "Tool steps: an advertised tool name, or <backend>.<originalToolName> (works for tools " +
      "hidden by filters and survives renames)",
  ),
  arguments: jsonObject(
    "Tool steps: arguments; string values are templates, expanded recursively; results are " +
      "coerced to the tool's input schema types",
  ).optional(),
  condition: z.string().optional().describe(
    "Template that must render true or false; false skips the step (its defaultResults " +
      "become its output)",
  ),
  dependsOn: z.array(z.string()).optional().describe(
    "Step ids that must finish before this step starts (steps whose outputs the templates " +
      "read are added automatically)",
  ),
  onError: StepErrorHandlingSchema.optional(),
  timeout: duration("Timeout for the whole step, retries included. Default 5m.", STEP_TIMEOUT)
    .optional(),
  message: z.string().optional().describe("Elicitation steps: the prompt (a template)"),
  schema: jsonObject("Elicitation steps: JSON Schema of the requested content").optional(),
  onDecline: ElicitationResponseSchema.optional(),
  onCancel: ElicitationResponseSchema.optional(),
  defaultResults: jsonObject(
    "Output used when the step is skipped or fails under onError.action continue; needs a " +
      "key for every .steps.<id>.output.<field> that other templates read",
  ).optional(),
  collection: z.string().optional().describe(
    "forEach steps: template yielding a JSON array, e.g. {{json .steps.list.output.items}}",
  ),
  itemVar: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe(
    "forEach steps: name of the current item under .forEach. Default item; not index",
  ),
  maxParallel: z.number().int().min(1).max(50).optional().describe(
    "forEach steps: iterations run at once (1 to 50). Default 10",
  ),
  maxIterations: z.number().int().min(1).max(1000).optional().describe(
    "forEach steps: largest collection accepted (1 to 1000). Default 100",
  ),
  step: ForEachInnerStepSchema.optional(),
}).describe("One workflow step");
export type WorkflowStep = z.infer<typeof WorkflowStepSchema>;

export const OutputPropertySchema = z.strictObject({
  type: z.enum(["string", "integer", "number", "boolean", "object", "array"]).describe(
    "JSON Schema type of the property",
  ),
  description: z.string().optional().describe("Shown to clients and models"),
  value: z.string().optional().describe(
    "Template producing the value; objects and arrays accept JSON text or a single action " +
      "yielding the value",
  ),
  properties: z.record(z.string(), jsonObject("A nested output property")).optional().describe(
    "Object properties built field by field (same shape as output.properties entries)",
  ),
  default: z.unknown().optional().describe(
    "Used when the value template fails, renders no value, or cannot be coerced",
  ),
}).describe("One property of the workflow output");
export type OutputProperty = z.infer<typeof OutputPropertySchema>;

export const OutputConfigSchema = z.strictObject({
  properties: z.record(z.string(), OutputPropertySchema).describe(
    "Output properties by name; becomes the tool's outputSchema",
  ),
  required: z.array(z.string()).optional().describe("Properties that must have a value"),
}).describe(
  "Structured output. Without it, the result is the last finished step's output",
);
export type OutputConfig = z.infer<typeof OutputConfigSchema>;

export const ToolAnnotationsSchema = z.strictObject({
  title: z.string().optional().describe("Human-readable title"),
  readOnlyHint: z.boolean().optional().describe("The tool does not modify its environment"),
  destructiveHint: z.boolean().optional().describe("The tool may perform destructive updates"),
  idempotentHint: z.boolean().optional().describe("Repeated calls have no additional effect"),
  openWorldHint: z.boolean().optional().describe("The tool interacts with external entities"),
}).describe("MCP tool annotations, merged over the hints derived from the step tools");

export const CompositeToolSpecSchema = z.strictObject({
  name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).describe(
    "Tool name advertised to clients; unique across inline and referenced definitions",
  ),
  description: z.string().min(1).describe("Tool description advertised to clients"),
  parameters: jsonObject(
    "JSON Schema (type: object) of the tool's arguments; defaults are applied and arguments " +
      "validated before the workflow runs",
  ).optional(),
  timeout: duration("Timeout of the whole workflow.", { min: "1s", max: "24h" }).default("30m"),
  steps: z.array(WorkflowStepSchema).min(1).describe("Workflow steps (at least one)"),
  output: OutputConfigSchema.optional(),
  annotations: ToolAnnotationsSchema.optional(),
}).describe("A composite tool: a workflow of tool calls and elicitations exposed as one tool");
/** The parsed (defaults applied) composite tool definition. */
export type CompositeToolSpec = z.infer<typeof CompositeToolSpecSchema>;
/** What users write (defaults optional). */
export type CompositeToolSpecInput = z.input<typeof CompositeToolSpecSchema>;

// Status schemas stay non-strict: vmcp writes them (users never do), and a reader must not fail
// on a field a newer controller added. Everything users write above is strict.
export const ConditionSchema = z.object({
  type: z.string().describe("Condition type, e.g. WorkflowValidated or Ready"),
  status: z.enum(["True", "False", "Unknown"]).describe("Condition status"),
  observedGeneration: z.number().int().optional().describe("Generation the condition is for"),
  lastTransitionTime: z.string().describe("When the status last changed (RFC 3339)"),
  reason: z.string().describe("CamelCase reason"),
  message: z.string().describe("Human-readable details"),
}).describe("A standard Kubernetes condition");

/** Condition types and reasons used by `VirtualMCPCompositeToolDefinition.status`. */
export const CompositeToolConditions = {
  types: { WorkflowValidated: "WorkflowValidated", Ready: "Ready" },
  reasons: {
    ValidationSuccess: "ValidationSuccess",
    ValidationFailed: "ValidationFailed",
    SchemaInvalid: "SchemaInvalid",
    TemplateInvalid: "TemplateInvalid",
    DependencyCycle: "DependencyCycle",
    ToolNotFound: "ToolNotFound",
    WorkflowReady: "WorkflowReady",
    WorkflowNotReady: "WorkflowNotReady",
  },
} as const;

export const CompositeToolDefinitionStatusSchema = z.object({
  validationStatus: z.enum(["Valid", "Invalid", "Unknown"]).optional().describe(
    "Result of the last validation",
  ),
  validationErrors: z.array(z.string()).optional().describe(
    "Every problem found, each naming the field path and value",
  ),
  referencingVirtualServers: z.array(z.string()).optional().describe(
    "VirtualMCPServers in this namespace that reference this definition",
  ),
  observedGeneration: z.number().int().optional().describe("Generation last validated"),
  conditions: z.array(ConditionSchema).optional().describe(
    "WorkflowValidated and Ready conditions",
  ),
}).describe("Observed state of a VirtualMCPCompositeToolDefinition");
export type CompositeToolDefinitionStatus = z.infer<typeof CompositeToolDefinitionStatusSchema>;
