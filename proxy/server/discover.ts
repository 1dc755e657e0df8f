/**
 * `server/discover` (MCP 2026-07-28): what vmcp tells a modern client about itself
 * (docs/adr/0010-mcp-2026-07-28-both-eras.md, section 2).
 *
 * - `supportedVersions: ["2026-07-28"]` (legacy revisions stay reachable through `initialize`,
 *   as the v2 SDK does it);
 * - `capabilities`: the union over routable backends of what they declared (tools, resources
 *   with `subscribe`, prompts, completions, logging), plus `tools` whenever composite (extra)
 *   tools are listed. List kinds carry `listChanged: true` (`subscriptions/listen`);
 * - `instructions` (config, else none) and `_meta["io.modelcontextprotocol/serverInfo"]`;
 * - `resultType: "complete"`, `ttlMs: 0`, `cacheScope: "private"` (what a caller sees will
 *   depend on who calls once authorization exists).
 *
 * The result is rebuilt only when the runtime recomputes its lists (memoized on that object).
 * @module
 */
import type { AnyObject } from "../backends/connection.ts";
import type { Lists } from "../router_state.ts";
import { MODERN_VERSIONS } from "./era.ts";

export const SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo";

/** A backend as discover sees it: its declared capabilities and whether it takes requests. */
export interface DiscoverBackend {
  capabilities: AnyObject | undefined;
  routable: boolean;
}

/** What `server/discover` is built from (the runtime, read at each call). */
export interface DiscoverSource {
  /** Changes identity whenever the views are recomputed (the memo key). */
  readonly lists: Lists;
  backends(): Iterable<DiscoverBackend>;
  /** True while a composite (extra) tool is listed. */
  hasExtraTools(): boolean;
  instructions(): string | undefined;
}

/** The union of the routable backends' capabilities, as vmcp advertises it to modern clients. */
export function aggregatedCapabilities(source: DiscoverSource): AnyObject {
  const caps: AnyObject = {};
  let subscribe = false;
  for (const b of source.backends()) {
    const c = b.capabilities;
    if (!b.routable || !c) continue;
    if (c.tools) caps.tools = { listChanged: true };
    if (c.prompts) caps.prompts = { listChanged: true };
    if (c.resources) {
      caps.resources = { listChanged: true };
      if ((c.resources as { subscribe?: unknown }).subscribe === true) subscribe = true;
    }
    if (c.completions) caps.completions = {};
    if (c.logging) caps.logging = {};
  }
  if (source.hasExtraTools()) caps.tools = { listChanged: true };
  if (subscribe) caps.resources = { listChanged: true, subscribe: true };
  return caps;
}

/** Builds `server/discover` results (memoized per recompute). */
export class Discover {
  #lists: Lists | undefined;
  #result: AnyObject | undefined;

  constructor(
    readonly source: DiscoverSource,
    readonly serverInfo: { name: string; version: string },
  ) {}

  /** The current result (a fresh top-level object; callers may not mutate nested values). */
  result(): AnyObject {
    const lists = this.source.lists;
    if (this.#result === undefined || this.#lists !== lists) {
      const instructions = this.source.instructions();
      this.#lists = lists;
      this.#result = {
        supportedVersions: [...MODERN_VERSIONS],
        capabilities: aggregatedCapabilities(this.source),
        ...(instructions ? { instructions } : {}),
        resultType: "complete",
        ttlMs: 0,
        cacheScope: "private",
        _meta: { [SERVER_INFO_META_KEY]: this.serverInfo },
      };
    }
    return this.#result;
  }
}
