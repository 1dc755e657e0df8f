/**
 * What the router asks authorization (router.ts; the gate: gate.ts): the lists a caller sees and
 * whether it may call a tool, get a prompt or read a resource. Without `state.authz` everything
 * is allowed and lists come back as they are. A caller without an identity is decided as the
 * anonymous one (never more than the policies give anyone).
 * @module
 */
import { ANONYMOUS_IDENTITY, type Identity } from "../../core/auth/identity.ts";
import { matchResource } from "../../core/aggregation/mod.ts";
import type { Tool } from "../../core/sdk.ts";
import type { AnyObject } from "../backends/connection.ts";
import type { RouterState } from "../router_state.ts";
import type { AuthzAction, AuthzResource } from "./cedar.ts";
import type { ViewSet } from "../capability_views.ts";

/** A tool as Cedar sees it (`backend` undefined for composite tools). */
function toolResource(tool: Tool, backend: string | undefined): AuthzResource {
  return {
    type: "Tool",
    id: tool.name,
    backend,
    annotations: tool.annotations as AnyObject | undefined,
  };
}

/** How an item of a list is decided (`views`: the lists' capability set). */
type Describe<T> = (item: T, state: RouterState, views: ViewSet) => AuthzResource;

/** The items of `list` `identity` may do `action` on (`list` itself without authz). */
function visible<T extends object>(
  state: RouterState,
  identity: Identity | undefined,
  action: AuthzAction,
  list: readonly T[],
  views: ViewSet,
  describe: Describe<T>,
): readonly T[] {
  if (!state.authz) return list;
  const who = identity ?? ANONYMOUS_IDENTITY;
  return state.authz.visible(who, action, list, (item) => describe(item, state, views));
}

const describeTool: Describe<Tool> = (t, state, views) =>
  toolResource(
    t,
    state.extraTools.has(t.name) ? undefined : views.view.toolRoutes.get(t.name)?.backend,
  );

const describeResource: Describe<AnyObject> = (r, _state, views) => ({
  type: "Resource",
  id: String(r.uri),
  backend: views.view.resourceRoutes.get(String(r.uri)),
});

/**
 * A resource template is decided as a read of `Resource::"<uriTemplate>"` (cedar.ts), so a
 * policy on a URI pattern (`resource.uri like "file:///data/*"`) or on the template itself
 * shows it. Reads of the URIs it expands to are decided one by one.
 */
const describeTemplate: Describe<AnyObject> = (t, _state, views) => {
  const uriTemplate = String(t.uriTemplate);
  return {
    type: "Resource",
    id: uriTemplate,
    backend: views.view.templateRoutes.find((r) => r.uriTemplate === uriTemplate)?.backend,
    template: true,
  };
};

const describePrompt: Describe<AnyObject> = (p, _state, views) => ({
  type: "Prompt",
  id: String(p.name),
  backend: views.view.promptRoutes.get(String(p.name))?.backend,
});

// The lists `identity` is shown (`views`: its capability set's, else the base).

/** The tools `identity` may call, as listed. */
export function visibleTools(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly Tool[] {
  return visible(state, identity, "call_tool", views.lists.tools, views, describeTool);
}

/** The resources `identity` may read, as listed. */
export function visibleResources(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly AnyObject[] {
  return visible(state, identity, "read_resource", views.lists.resources, views, describeResource);
}

/** The resource templates `identity` is shown: those it may read (`describeTemplate`). */
export function visibleResourceTemplates(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly AnyObject[] {
  const templates = views.lists.resourceTemplates;
  return visible(state, identity, "read_resource", templates, views, describeTemplate);
}

/** The prompts `identity` may get, as listed. */
export function visiblePrompts(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly AnyObject[] {
  return visible(state, identity, "get_prompt", views.lists.prompts, views, describePrompt);
}

/** Whether `identity` may call `tool` (the advertised object: the decision's cache key). */
export function mayCallTool(
  state: RouterState,
  identity: Identity,
  tool: Tool,
  backend: string | undefined,
  args: unknown,
): boolean {
  if (!state.authz) return true;
  const resource = toolResource(tool, backend);
  return state.authz.allows(identity, "call_tool", resource, tool, args as AnyObject | undefined);
}

/** Whether `identity` may read `uri` (true for a URI no backend serves: unknown anyway). */
export function mayReadResource(state: RouterState, identity: Identity, uri: unknown): boolean {
  if (!state.authz || typeof uri !== "string") return true;
  const backend = matchResource(state.view, uri) ?? matchResource(state.fullView, uri);
  if (backend === undefined) return true;
  return state.authz.allows(identity, "read_resource", { type: "Resource", id: uri, backend });
}

/** Whether `identity` may get the prompt `name` served by `backend` (with `args`: `arg_*`). */
export function mayGetPrompt(
  state: RouterState,
  identity: Identity,
  name: string,
  backend: string,
  args?: unknown,
): boolean {
  if (!state.authz) return true;
  const resource = { type: "Prompt" as const, id: name, backend };
  return state.authz.allows(identity, "get_prompt", resource, undefined, args as AnyObject);
}
