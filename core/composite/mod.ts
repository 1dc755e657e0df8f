/**
 * Composite tools: multi-step workflows exposed as one MCP tool.
 *
 * Config time: `compileCompositeTool(def, catalogue)` (or `validateCompositeTool`) checks
 * everything and parses every template. Call time: `runWorkflow(workflow, args, deps,
 * options)` returns a `CallToolResult`. Advertise `workflow.inputSchema` and
 * `workflow.outputSchema`.
 * @module
 */

export {
  type ArgTree,
  compileCompositeTool,
  type CompiledStep,
  type CompiledToolCall,
  type CompiledWorkflow,
  type CompileResult,
  type ToolCatalogue,
  type ToolInfo,
} from "./compile.ts";
export { validateCompositeTool } from "./validate.ts";
export {
  type CallToolOptions,
  type ElicitResult,
  executeWorkflow,
  type ProgressStatus,
  type RunOptions,
  runWorkflow,
  type StepProgressEvent,
  type StepRecord,
  type StepStatus,
  type ToolProgress,
  type WorkflowDeps,
  type WorkflowRun,
} from "./engine.ts";
export { formatProblems, type Problem } from "./problems.ts";
export { coerceToSchema } from "./coerce.ts";
export { buildOutput, type CompiledOutput, outputSchemaOf } from "./output.ts";
export {
  evaluateTemplate,
  parseTemplate,
  renderTemplate,
  type Template,
  TemplateExecError,
  TemplateSyntaxError,
} from "./template.ts";
