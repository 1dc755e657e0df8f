/**
 * The catalogue composite tools compile against: every tool of every discovered backend,
 * hidden ones included (filtered out, `excludeAll`, or dropped by conflict resolution), by
 * advertised name or `backend.originalTool`.
 * @module
 */
import { type AggregatedView, resolveToolRef, type ToolRoute } from "../../core/aggregation/mod.ts";
import type { ToolCatalogue, ToolInfo } from "../../core/composite/mod.ts";

/** A catalogue entry that also says how to call the tool through the router. */
export interface RoutedToolInfo extends ToolInfo {
  /** A reference `resolveToolRef` maps back to exactly this route (for `ctx.callTool`). */
  callRef: string;
  route: ToolRoute;
}

const sameRoute = (a: ToolRoute | undefined, b: ToolRoute) =>
  a !== undefined && a.backend === b.backend && a.originalName === b.originalName;

/**
 * The reference to call a route with: its advertised name when that name routes to it,
 * else `backend.originalTool` (tools that lost a name conflict); undefined if neither
 * resolves back to the route.
 */
export function callRefFor(view: AggregatedView, route: ToolRoute): string | undefined {
  if (sameRoute(view.toolRoutes.get(route.advertisedName), route)) return route.advertisedName;
  const dotted = `${route.backend}.${route.originalName}`;
  return sameRoute(resolveToolRef(view, dotted), route) ? dotted : undefined;
}

/** A catalogue over a (full) aggregated view; entries are `RoutedToolInfo`. */
export function viewCatalogue(view: AggregatedView): ToolCatalogue {
  const cache = new Map<string, RoutedToolInfo | undefined>();
  return {
    resolve(ref) {
      if (cache.has(ref)) return cache.get(ref);
      const route = resolveToolRef(view, ref);
      const callRef = route && callRefFor(view, route);
      const info: RoutedToolInfo | undefined = route && callRef
        ? {
          advertisedName: route.advertisedName,
          inputSchema: route.tool.inputSchema as Record<string, unknown>,
          callRef,
          route,
        }
        : undefined;
      cache.set(ref, info);
      return info;
    },
  };
}
