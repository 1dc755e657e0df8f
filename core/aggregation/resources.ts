/**
 * Resources and resource templates: never renamed; a duplicate URI goes to the backend that
 * sorts first.
 * @module
 */
import type { Resource, ResourceTemplate } from "../sdk.ts";
import type { BackendCapabilities, TemplateRoute } from "./types.ts";
import { compareStrings } from "./types.ts";

/** Merged resources with their routes. */
export interface MergedResources {
  resources: Resource[];
  resourceRoutes: Map<string, string>;
  resourceTemplates: ResourceTemplate[];
  templateRoutes: TemplateRoute[];
  warnings: string[];
}

function mergeBy<T>(
  caps: readonly BackendCapabilities[],
  list: (c: BackendCapabilities) => readonly T[],
  key: (t: T) => string,
  what: string,
  warnings: string[],
): Map<string, { item: T; backend: string }> {
  const out = new Map<string, { item: T; backend: string }>();
  for (const cap of caps) {
    for (const item of list(cap)) {
      const k = key(item);
      const have = out.get(k);
      if (!have) out.set(k, { item, backend: cap.backend });
      else if (have.backend !== cap.backend) {
        warnings.push(
          `${what} "${k}" is offered by backends "${have.backend}" and "${cap.backend}"; ` +
            `kept "${have.backend}" (first by backend name)`,
        );
      }
    }
  }
  return out;
}

/**
 * Merges resources (by URI) and templates (by uriTemplate). `caps` must be sorted by backend,
 * so the backend that sorts first wins a duplicate. Output lists are sorted by key.
 */
export function mergeResources(caps: readonly BackendCapabilities[]): MergedResources {
  const warnings: string[] = [];
  const res = mergeBy(caps, (c) => c.resources, (r) => r.uri, "Resource URI", warnings);
  const tpl = mergeBy(
    caps,
    (c) => c.resourceTemplates,
    (t) => t.uriTemplate,
    "Resource template",
    warnings,
  );
  const resKeys = [...res.keys()].sort(compareStrings);
  const tplKeys = [...tpl.keys()].sort(compareStrings);
  return {
    resources: resKeys.map((k) => res.get(k)!.item),
    resourceRoutes: new Map(resKeys.map((k) => [k, res.get(k)!.backend])),
    resourceTemplates: tplKeys.map((k) => tpl.get(k)!.item),
    templateRoutes: tplKeys.map((k) => ({ uriTemplate: k, backend: tpl.get(k)!.backend })),
    warnings,
  };
}
