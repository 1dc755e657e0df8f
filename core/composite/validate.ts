/**
 * Config-time validation of composite tool definitions.
 * @module
 */

import { compileCompositeTool, type ToolCatalogue } from "./compile.ts";
import type { Problem } from "./problems.ts";

/**
 * Validates a composite tool definition (as written: YAML/JSON data) and returns every
 * problem found, each with its field path (`steps[2].arguments.title`) and a message naming
 * the value; an empty list means valid. Checks: schema (types, enums, required fields,
 * durations), duplicate step ids, unknown `dependsOn` ids, dependency cycles (declared and
 * implied by template references), template syntax, templates reading unknown steps,
 * missing `defaultResults` keys for skippable steps, tools unknown to `catalogue`, fields
 * that do not belong to the step type, forEach without collection or inner step,
 * elicitation without message, retry without retryCount, the `parameters` schema and
 * `output` properties.
 *
 * @param input the `compositeTools[]` entry or `VirtualMCPCompositeToolDefinition.spec`
 * @param catalogue resolves step tools; when omitted, tool names are not checked
 */
export function validateCompositeTool(input: unknown, catalogue?: ToolCatalogue): Problem[] {
  return compileCompositeTool(input, catalogue).problems;
}
