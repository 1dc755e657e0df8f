/**
 * The aggregation pipeline: overrides → conflict resolution → advertising filter for tools;
 * naming for prompts; de-duplication for resources and templates.
 * @module
 */
import type { Aggregation } from "../../crds/aggregation.ts";
import type { Tool } from "../sdk.ts";
import { filterWarnings, isHidden } from "./filter.ts";
import { type ToolCandidate, toolCandidates } from "./overrides.ts";
import { mergePrompts } from "./prompts.ts";
import { mergeResources } from "./resources.ts";
import { normalizeAggregation } from "./settings.ts";
import { resolveManual } from "./strategy_manual.ts";
import { resolvePrefix } from "./strategy_prefix.ts";
import { resolvePriority } from "./strategy_priority.ts";
import type { AggregatedView, BackendCapabilities, Resolution, ToolRoute } from "./types.ts";
import { compareStrings } from "./types.ts";

function advertisedTool(c: ToolCandidate, name: string): Tool {
  if (name === c.originalName && c.description === c.tool.description) return c.tool;
  const tool: Tool = { ...c.tool, name };
  if (c.description === undefined) delete tool.description;
  else tool.description = c.description;
  return tool;
}

/**
 * Merges the capabilities of all backends under one aggregation config.
 *
 * Deterministic: backends are processed sorted by name and every tie is broken by (backend,
 * original name), so the same inputs in any order give identical names, routes, lists,
 * warnings and problems. Pure: neither argument is modified.
 *
 * Tools: overrides apply first (keyed by original name), then the strategy runs on the
 * overridden names, then the filter decides what is advertised; filtered tools stay in
 * `toolRoutes` with `hidden: true`, tools that lost a conflict are only in `toolsByBackend`.
 * A name still claimed by several tools after the strategy ran (e.g. backend `weather` tool
 * `get_forecast` and backend `weather_get` tool `forecast` under `{workload}_`) goes to the
 * tool whose backend name sorts first (then original name); every such case is in
 * `collisions` (and `warnings`), for the proxy's warn log, `/status` and the CR condition.
 * Under `manual`, leftover conflicts are reported in `problems` (reject the config).
 * @param aggregation `undefined` means `prefix` with `{workload}_`.
 */
export function aggregate(
  caps: readonly BackendCapabilities[],
  aggregation: Aggregation | undefined,
): AggregatedView {
  const settings = normalizeAggregation(aggregation);
  const warnings: string[] = [];
  const sorted = [...caps].sort((a, b) => compareStrings(a.backend, b.backend));
  const unique: BackendCapabilities[] = [];
  for (const cap of sorted) {
    if (unique.length > 0 && unique[unique.length - 1]!.backend === cap.backend) {
      warnings.push(`Backend "${cap.backend}" was given twice; kept the first`);
      continue;
    }
    unique.push(cap);
  }

  // Tools.
  const { candidates, warnings: overrideWarnings } = toolCandidates(unique, settings);
  warnings.push(...overrideWarnings);
  const res: Resolution<ToolCandidate> = settings.strategy === "prefix"
    ? resolvePrefix(candidates, settings.prefixFormat, "Tool")
    : settings.strategy === "priority"
    ? resolvePriority(candidates, settings.priorityOrder, settings.prefixFormat, "Tool")
    : resolveManual(candidates, "Tool");
  warnings.push(...res.warnings);
  warnings.push(...filterWarnings(candidates, settings));

  const toolRoutes = new Map<string, ToolRoute>();
  const toolsByBackend = new Map<string, Map<string, ToolRoute>>();
  const byBackend = (b: string) => {
    let m = toolsByBackend.get(b);
    if (!m) toolsByBackend.set(b, m = new Map());
    return m;
  };
  for (const cap of unique) byBackend(cap.backend);
  const tools: Tool[] = [];
  for (const [name, c] of res.winners) {
    const hidden = isHidden(c, settings);
    const route: ToolRoute = {
      backend: c.backend,
      originalName: c.originalName,
      advertisedName: name,
      hidden,
      tool: advertisedTool(c, name),
    };
    toolRoutes.set(name, route);
    byBackend(c.backend).set(c.originalName, route);
    if (!hidden) tools.push(route.tool);
  }
  for (const { candidate: c, name } of res.dropped) {
    byBackend(c.backend).set(c.originalName, {
      backend: c.backend,
      originalName: c.originalName,
      advertisedName: name,
      hidden: true,
      tool: advertisedTool(c, name),
    });
  }

  // Prompts, resources, templates.
  const p = mergePrompts(unique, settings);
  warnings.push(...p.resolution.warnings);
  const r = mergeResources(unique);
  warnings.push(...r.warnings);

  return {
    tools,
    resources: r.resources,
    resourceTemplates: r.resourceTemplates,
    prompts: p.prompts,
    toolRoutes,
    toolsByBackend,
    promptRoutes: p.promptRoutes,
    resourceRoutes: r.resourceRoutes,
    templateRoutes: r.templateRoutes,
    warnings,
    collisions: [...res.collisions, ...p.resolution.collisions],
    problems: [...res.problems, ...p.resolution.problems],
  };
}
