/**
 * The filter of a `subscriptions/listen` request (MCP 2026-07-28): reading it with clear errors,
 * and narrowing it to what vmcp can deliver (as the v2 SDK's `honoredSubset`).
 * @module
 */

/** The filter of a `subscriptions/listen` request (the v2 SDK's `SubscriptionFilterSchema`). */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** The part of the server capabilities that decides which filter kinds are honoured. */
export interface ListenCapabilities {
  tools?: { listChanged?: boolean };
  prompts?: { listChanged?: boolean };
  resources?: { listChanged?: boolean; subscribe?: boolean };
}

/** URIs one stream may name in `resourceSubscriptions`. */
export const MAX_URIS_PER_STREAM = 256;
/** Characters of one URI in `resourceSubscriptions`. */
export const MAX_URI_CHARS = 4096;
/** A filter kind that is a plain opt-in. */
export type Kind = "toolsListChanged" | "promptsListChanged" | "resourcesListChanged";
/** The list-change notification method → its filter kind. */
export const KIND_OF: Record<string, Kind> = {
  "notifications/tools/list_changed": "toolsListChanged",
  "notifications/prompts/list_changed": "promptsListChanged",
  "notifications/resources/list_changed": "resourcesListChanged",
};
const BOOLEAN_FIELDS: readonly Kind[] = [
  "toolsListChanged",
  "promptsListChanged",
  "resourcesListChanged",
];

/** A value shown in an error message (JSON, cut at 80 characters). */
export const show = (v: unknown) => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? text.slice(0, 80) + "…" : text;
};

/**
 * Reads `params.notifications` of a listen request. Returns the filter or the reason it is
 * refused (naming field, value and what is allowed).
 */
export function parseFilter(params: Record<string, unknown>): SubscriptionFilter | string {
  const raw = params.notifications;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return `params.notifications is required and must be an object with toolsListChanged, promptsListChanged, resourcesListChanged (booleans) or resourceSubscriptions (an array of URI strings); got ${
      show(raw)
    }`;
  }
  const n = raw as Record<string, unknown>;
  const filter: SubscriptionFilter = {};
  for (const k of BOOLEAN_FIELDS) {
    if (n[k] === undefined) continue;
    if (typeof n[k] !== "boolean") {
      return `params.notifications.${k} must be a boolean; got ${show(n[k])}`;
    }
    filter[k] = n[k];
  }
  const uris = n.resourceSubscriptions;
  if (uris !== undefined) {
    if (!Array.isArray(uris)) {
      return `params.notifications.resourceSubscriptions must be an array of URI strings; got ${
        show(uris)
      }`;
    }
    if (uris.length > MAX_URIS_PER_STREAM) {
      return `params.notifications.resourceSubscriptions names ${uris.length} URIs; at most ${MAX_URIS_PER_STREAM} are allowed per stream`;
    }
    for (const [i, u] of uris.entries()) {
      if (typeof u !== "string" || u.length === 0 || u.length > MAX_URI_CHARS) {
        return `params.notifications.resourceSubscriptions[${i}] must be a non-empty string of at most ${MAX_URI_CHARS} characters; got ${
          show(u)
        }`;
      }
    }
    filter.resourceSubscriptions = [...new Set(uris as string[])];
  }
  return filter;
}

/** The kinds the client asked for (true or non-empty) that `caps` allows. */
export function honoredFilter(
  requested: SubscriptionFilter,
  caps: ListenCapabilities,
  canSubscribe: boolean,
): SubscriptionFilter {
  const out: SubscriptionFilter = {};
  if (requested.toolsListChanged === true && caps.tools?.listChanged) out.toolsListChanged = true;
  if (requested.promptsListChanged === true && caps.prompts?.listChanged) {
    out.promptsListChanged = true;
  }
  if (requested.resourcesListChanged === true && caps.resources?.listChanged) {
    out.resourcesListChanged = true;
  }
  const uris = requested.resourceSubscriptions;
  if (uris?.length && caps.resources?.subscribe && canSubscribe) {
    out.resourceSubscriptions = [...uris];
  }
  return out;
}
