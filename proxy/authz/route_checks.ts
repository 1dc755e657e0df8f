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
import type { AuthzResource } from "./cedar.ts";
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

/** The tools `identity` may call, as listed (`views`: its capability set's, else the base). */
export function visibleTools(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly Tool[] {
  const tools = views.lists.tools;
  if (!state.authz) return tools;
  return state.authz.visible(
    identity ?? ANONYMOUS_IDENTITY,
    "call_tool",
    tools,
    (t) =>
      toolResource(
        t,
        state.extraTools.has(t.name) ? undefined : views.view.toolRoutes.get(t.name)?.backend,
      ),
  );
}

/** The resources `identity` may read, as listed (`views`: its capability set's, else the base). */
export function visibleResources(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly AnyObject[] {
  const resources = views.lists.resources;
  if (!state.authz) return resources;
  return state.authz.visible(identity ?? ANONYMOUS_IDENTITY, "read_resource", resources, (r) => ({
    type: "Resource",
    id: String(r.uri),
    backend: views.view.resourceRoutes.get(String(r.uri)),
  }));
}

/**
 * The resource templates `identity` is shown: those it may read as `Resource::"<uriTemplate>"`
 * (cedar.ts), so a policy on a URI pattern (`resource.uri like "file:///data/*"`) or on the
 * template itself shows it. Reads of the URIs it expands to are decided one by one.
 */
export function visibleResourceTemplates(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly AnyObject[] {
  const templates = views.lists.resourceTemplates;
  if (!state.authz) return templates;
  return state.authz.visible(identity ?? ANONYMOUS_IDENTITY, "read_resource", templates, (t) => {
    const uriTemplate = String(t.uriTemplate);
    return {
      type: "Resource",
      id: uriTemplate,
      backend: views.view.templateRoutes.find((r) => r.uriTemplate === uriTemplate)?.backend,
      template: true,
    };
  });
}

/** The prompts `identity` may get, as listed. */
export function visiblePrompts(
  state: RouterState,
  identity?: Identity,
  views: ViewSet = state,
): readonly AnyObject[] {
  const prompts = views.lists.prompts;
  if (!state.authz) return prompts;
  return state.authz.visible(identity ?? ANONYMOUS_IDENTITY, "get_prompt", prompts, (p) => ({
    type: "Prompt",
    id: String(p.name),
    backend: views.view.promptRoutes.get(String(p.name))?.backend,
  }));
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
