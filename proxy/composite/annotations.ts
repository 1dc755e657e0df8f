/**
 * Annotations of a composite tool: a safety floor derived from the tools its steps call,
 * with the definition's explicit values merged over it. An explicit value that claims more
 * safety than the floor is a problem (the tool is not served).
 * @module
 */
import type { CompiledWorkflow } from "../../core/composite/mod.ts";
import type { Problem } from "../../core/config/problems.ts";
import type { ToolAnnotations } from "../../core/sdk.ts";
import type { RoutedToolInfo } from "./catalogue.ts";

type Hints = Pick<ToolAnnotations, "readOnlyHint" | "destructiveHint" | "openWorldHint">;

/** The tools a workflow's steps call (tool steps and forEach inner steps). */
export function stepTools(wf: CompiledWorkflow): (RoutedToolInfo | undefined)[] {
  return wf.steps.flatMap((s) => {
    const call = s.call ?? s.forEach?.call;
    return call ? [call.tool as RoutedToolInfo | undefined] : [];
  });
}

/**
 * The floor: read-only only if every step tool says so; destructive and open-world if any
 * step tool is, or does not say (unknown counts as unsafe). `idempotentHint` is not derived.
 */
export function derivedHints(wf: CompiledWorkflow): Required<Hints> {
  const hints = stepTools(wf).map((t) => t?.route.tool.annotations ?? {});
  return {
    readOnlyHint: hints.every((h) => h.readOnlyHint === true),
    destructiveHint: hints.some((h) => h.destructiveHint !== false),
    openWorldHint: hints.some((h) => h.openWorldHint !== false),
  };
}

/**
 * Merges the explicit annotations over the derived floor.
 * @param at path of the definition, e.g. `compositeTools[2]`
 */
export function compositeAnnotations(
  wf: CompiledWorkflow,
  at: string,
): { annotations: ToolAnnotations; problems: Problem[] } {
  const floor = derivedHints(wf);
  const explicit = wf.spec.annotations ?? {};
  const problems: Problem[] = [];
  const claim = (key: keyof Hints, safer: boolean, value: boolean) => {
    if (explicit[key] === safer && floor[key] !== safer) {
      problems.push({
        path: `${at}.annotations.${key}`,
        message: `${key}: ${safer} claims more safety than the step tools allow ` +
          `(derived ${key}: ${floor[key]}); remove it or set ${value}`,
        value: safer,
      });
    }
  };
  claim("readOnlyHint", true, false);
  claim("destructiveHint", false, true);
  claim("openWorldHint", false, true);
  const annotations: ToolAnnotations = { ...floor };
  for (const [k, v] of Object.entries(explicit)) {
    if (v !== undefined) (annotations as Record<string, unknown>)[k] = v;
  }
  return { annotations, problems };
}
