/**
 * Capability discovery of one backend: lists tools, resources, resource templates and prompts
 * (only what the backend advertises), following pagination cursors.
 * @module
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from "../../core/sdk.ts";
import type { BackendCapabilities as Listed } from "../../core/aggregation/mod.ts";
import type { AnyObject, RequestOpts } from "./connection.ts";

/** A connection discovery can list through (legacy `BackendConnection` or stateless). */
export interface Discoverable {
  readonly name: string;
  request(method: string, params: AnyObject | undefined, opts: RequestOpts): Promise<AnyObject>;
  /** What the backend declared (initialize result or discover result). */
  readonly client: {
    getServerCapabilities(): unknown;
    getServerVersion(): { name: string; version: string } | undefined;
    getInstructions(): string | undefined;
  };
}

/** Everything one backend offers: its lists (as aggregated) and what it declared. */
export interface BackendCapabilities extends Listed {
  /** serverInfo and capabilities the backend declared at initialize. */
  serverInfo?: { name: string; version: string };
  capabilities?: AnyObject;
  instructions?: string;
}

/** Pages followed before giving up on a backend that keeps returning cursors. */
export const MAX_PAGES = 10_000;

/** Lists every page of `method`, returning the items under `key`. */
export async function listAll<T>(
  conn: Discoverable,
  method: string,
  key: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await conn.request(method, cursor === undefined ? undefined : { cursor }, {
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
    const got = result[key];
    if (Array.isArray(got)) items.push(...(got as T[]));
    const next = result.nextCursor;
    if (typeof next !== "string" || next === "") return items;
    if (seen.has(next)) {
      throw new Error(`Backend "${conn.name}" repeated ${method} cursor "${next}"`);
    }
    seen.add(next);
    cursor = next;
  }
  throw new Error(`Backend "${conn.name}" returned more than ${MAX_PAGES} pages for ${method}`);
}

/** Lists everything `conn`'s backend advertises. */
export async function discoverCapabilities(
  conn: Discoverable,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<BackendCapabilities> {
  const caps = (conn.client.getServerCapabilities() ?? {}) as AnyObject;
  const none = Promise.resolve([]);
  const [tools, resources, resourceTemplates, prompts] = await Promise.all([
    caps.tools ? listAll<Tool>(conn, "tools/list", "tools", timeoutMs, signal) : none,
    caps.resources
      ? listAll<Resource>(conn, "resources/list", "resources", timeoutMs, signal)
      : none,
    caps.resources
      ? listAll<ResourceTemplate>(
        conn,
        "resources/templates/list",
        "resourceTemplates",
        timeoutMs,
        signal,
      )
        .catch(() => [])
      : none,
    caps.prompts ? listAll<Prompt>(conn, "prompts/list", "prompts", timeoutMs, signal) : none,
  ]);
  const info = conn.client.getServerVersion();
  const instructions = conn.client.getInstructions();
  return {
    backend: conn.name,
    tools: tools as Tool[],
    resources: resources as Resource[],
    resourceTemplates: resourceTemplates as ResourceTemplate[],
    prompts: prompts as Prompt[],
    ...(info ? { serverInfo: { name: info.name, version: info.version } } : {}),
    capabilities: caps,
    ...(instructions ? { instructions } : {}),
  };
}
