/**
 * The runtime's list building and change announcements: the precomputed lists of a view plus
 * the extra (composite) tools whose backends are all routable, each list's signature so that
 * sessions and listen streams hear `list_changed` only when a list really changed, and the
 * warning about names left claimed twice after conflict resolution.
 * @module
 */
import type { AggregatedView } from "../core/aggregation/mod.ts";
import { compareStrings } from "../core/aggregation/types.ts";
import type { Logger } from "../core/log.ts";
import type { AnyObject } from "./backends/connection.ts";
import type { ExtraTool, Lists } from "./router_state.ts";
import type { ProxySession } from "./server/session.ts";
import type { ListenHub } from "./server/listen.ts";

/**
 * The lists clients are served: `view`'s, plus each extra tool whose `backends` are all in
 * `routableNames` (like their own tools); tools sorted by name.
 */
export function buildLists(
  view: AggregatedView,
  extraTools: ReadonlyMap<string, ExtraTool>,
  routableNames: ReadonlySet<string>,
): Lists {
  const extra = [...extraTools.values()]
    .filter((e) => (e.backends ?? []).every((b) => routableNames.has(b)))
    .map((e) => e.tool);
  const tools = [...view.tools, ...extra].sort((a, b) => compareStrings(a.name, b.name));
  return {
    tools,
    resources: view.resources as AnyObject[],
    resourceTemplates: view.resourceTemplates as AnyObject[],
    prompts: view.prompts as AnyObject[],
  };
}

/** Names left claimed twice after conflict resolution: warned once per change. */
export class CollisionWarnings {
  #last = "[]";

  warn(fullView: AggregatedView, log: Logger): void {
    const collisions = JSON.stringify(fullView.collisions);
    if (collisions === this.#last) return;
    this.#last = collisions;
    for (const c of fullView.collisions) {
      log.warn("name collision left after conflict resolution; one claimant dropped", { ...c });
    }
  }
}

/** Tells sessions and listen streams which lists changed since the last `publish`. */
export class ListChangeNotifier {
  #signatures = { tools: "", resources: "", prompts: "" };

  /** The next `publish` counts the tools list (or every list) as changed: clients re-list. */
  forget(which: "tools" | "all"): void {
    this.#signatures = which === "tools"
      ? { ...this.#signatures, tools: "" }
      : { tools: "", resources: "", prompts: "" };
  }

  /** Records the lists' signatures; when `announce`, tells everyone listening what changed. */
  publish(
    lists: Lists,
    sessions: Iterable<ProxySession>,
    hub: ListenHub,
    announce: boolean,
  ): void {
    const next = {
      tools: JSON.stringify(lists.tools),
      resources: JSON.stringify([lists.resources, lists.resourceTemplates]),
      prompts: JSON.stringify(lists.prompts),
    };
    const prev = this.#signatures;
    this.#signatures = next;
    if (!announce) return;
    for (const s of sessions) {
      if (next.tools !== prev.tools) s.server.sendToolListChanged().catch(() => {});
      if (next.resources !== prev.resources) s.server.sendResourceListChanged().catch(() => {});
      if (next.prompts !== prev.prompts) s.server.sendPromptListChanged().catch(() => {});
    }
    if (next.tools !== prev.tools) hub.publish({ method: "notifications/tools/list_changed" });
    if (next.resources !== prev.resources) {
      hub.publish({ method: "notifications/resources/list_changed" });
    }
    if (next.prompts !== prev.prompts) {
      hub.publish({ method: "notifications/prompts/list_changed" });
    }
  }
}
