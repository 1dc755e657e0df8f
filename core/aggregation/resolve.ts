/**
 * Lookups on an aggregated view: tool references (composite tools) and resource URIs.
 * @module
 */
import { UriTemplate } from "../sdk.ts";
import type { AggregatedView, ToolRoute } from "./types.ts";

/**
 * Resolves a tool reference: first as an advertised name (hidden tools included), then as
 * `backend.originalTool` — the backend's own tool name, which does not change when the
 * conflict strategy, prefix or overrides change. Backend and tool names may contain dots;
 * every split point is tried from the left. Tools that lost a name conflict are reachable
 * only in the dot form (their route has `hidden: true`).
 * @returns the route, or `undefined` when nothing matches.
 */
export function resolveToolRef(view: AggregatedView, ref: string): ToolRoute | undefined {
  const direct = view.toolRoutes.get(ref);
  if (direct) return direct;
  for (let i = ref.indexOf("."); i > 0; i = ref.indexOf(".", i + 1)) {
    const route = view.toolsByBackend.get(ref.slice(0, i))?.get(ref.slice(i + 1));
    if (route) return route;
  }
  return undefined;
}

const compiled = new WeakMap<AggregatedView, { backend: string; template: UriTemplate }[]>();

function compiledTemplates(view: AggregatedView) {
  let list = compiled.get(view);
  if (!list) {
    list = [];
    for (const t of view.templateRoutes) {
      if (!UriTemplate.isTemplate(t.uriTemplate)) continue;
      try {
        list.push({ backend: t.backend, template: new UriTemplate(t.uriTemplate) });
      } catch {
        // An unparsable template can still match exactly (step 2 of matchResource).
      }
    }
    compiled.set(view, list);
  }
  return list;
}

/**
 * Finds the backend for `resources/read` (and resource completions): the exact resource
 * URI, then the exact template string, then an RFC 6570 match against the templates in
 * sorted order (first match wins).
 * @returns the backend name, or `undefined`.
 */
export function matchResource(view: AggregatedView, uri: string): string | undefined {
  const exact = view.resourceRoutes.get(uri);
  if (exact !== undefined) return exact;
  const tpl = view.templateRoutes.find((t) => t.uriTemplate === uri);
  if (tpl) return tpl.backend;
  for (const t of compiledTemplates(view)) {
    try {
      if (t.template.match(uri) !== null) return t.backend;
    } catch {
      // Over-long URIs make the SDK throw: not a match.
    }
  }
  return undefined;
}
