/**
 * Types shared by the aggregation pipeline: what a backend offers, and the merged view the
 * proxy serves and routes with.
 * @module
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from "../sdk.ts";
import type { Problem } from "../config/problems.ts";

/** Everything one backend offers, as listed by the backend (all pages followed). */
export interface BackendCapabilities {
  /** Backend (workload) name; the `{workload}` of `prefixFormat`. */
  backend: string;
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
}

/** How one tool of one backend is reached and how it is advertised. */
export interface ToolRoute {
  /** Backend that serves the tool. */
  backend: string;
  /** The backend's own tool name: what `tools/call` sends to the backend. */
  originalName: string;
  /**
   * Name clients use. For a tool that lost a conflict (only reachable through
   * `AggregatedView.toolsByBackend` / the `backend.originalTool` form) this is the name it
   * would have had.
   */
  advertisedName: string;
  /**
   * True when the tool is not in `tools/list`: hidden by `excludeAllTools`, `excludeAll` or
   * `filter` (still in `toolRoutes`), or dropped by conflict resolution (not in `toolRoutes`).
   */
  hidden: boolean;
  /**
   * The tool as advertised: renamed, with the overridden description, and the backend's
   * original inputSchema, outputSchema and annotations.
   */
  tool: Tool;
}

/** Where a prompt goes. */
export interface PromptRoute {
  backend: string;
  originalName: string;
}

/** Where a resource template goes. */
export interface TemplateRoute {
  uriTemplate: string;
  backend: string;
}

/** The merged, deterministic view of all backends under one aggregation config. */
export interface AggregatedView {
  /** Advertised tools only, sorted by name. */
  tools: Tool[];
  /** Resources, sorted by URI; never renamed. */
  resources: Resource[];
  /** Resource templates, sorted by uriTemplate; never renamed. */
  resourceTemplates: ResourceTemplate[];
  /** Prompts as advertised, sorted by name. */
  prompts: Prompt[];
  /** Advertised name → route, including tools hidden by filters (`hidden: true`). */
  toolRoutes: Map<string, ToolRoute>;
  /**
   * Backend → original tool name → route, for every tool of every backend, including those
   * dropped by conflict resolution. Backs the `backend.originalTool` reference form.
   */
  toolsByBackend: Map<string, Map<string, ToolRoute>>;
  /** Advertised prompt name → backend and original name. */
  promptRoutes: Map<string, PromptRoute>;
  /** Resource URI → backend. */
  resourceRoutes: Map<string, string>;
  /** Templates sorted by uriTemplate, with their backend. */
  templateRoutes: TemplateRoute[];
  /** Things resolved by a rule the user may not expect (dropped tools, duplicate URIs). */
  warnings: string[];
  /**
   * Tool and prompt names still claimed by several backends' tools after conflict resolution
   * (tools first, then prompts, each sorted by name); also in `warnings` as text.
   */
  collisions: NameCollision[];
  /** Config errors (e.g. unresolved conflicts under `manual`); the config should be rejected. */
  problems: Problem[];
}

/** A named capability (tool or prompt) on its way through the pipeline. */
export interface Candidate {
  backend: string;
  originalName: string;
  /** Name after overrides, before any prefix. */
  name: string;
}

/**
 * A name still claimed by several tools (or prompts) after conflict resolution: one is kept —
 * the first by backend name, then original name (`manual`: none) — the others are not
 * advertised (reachable only as `backend.originalTool` from composite tools).
 */
export interface NameCollision {
  kind: "tool" | "prompt";
  /** The advertised name they all claim. */
  name: string;
  /** Who keeps the name; absent under `manual`, where every claimant is dropped. */
  kept?: { backend: string; originalName: string };
  dropped: { backend: string; originalName: string }[];
}

/** Result of a conflict-resolution strategy. */
export interface Resolution<C extends Candidate> {
  /** Advertised name → the candidate that owns it, inserted in name order. */
  winners: Map<string, C>;
  /** Candidates that lost, with the name they would have had. */
  dropped: { candidate: C; name: string }[];
  /** Names the strategy could not give out cleanly (sorted by name). */
  collisions: NameCollision[];
  warnings: string[];
  problems: Problem[];
}

/** Code-point string order (locale independent, so the same everywhere). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders candidates by backend, then original name: the tie-breaker of every rule. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return compareStrings(a.backend, b.backend) || compareStrings(a.originalName, b.originalName);
}

/** Replaces every `{workload}` in `format` with the backend name. */
export function applyPrefix(format: string, backend: string, name: string): string {
  return format.replaceAll("{workload}", backend) + name;
}

/** `"a"`, `"a" and "b"`, `"a", "b" and "c"`. */
export function quoteList(items: readonly string[]): string {
  const q = items.map((s) => JSON.stringify(s));
  if (q.length <= 1) return q.join("");
  return `${q.slice(0, -1).join(", ")} and ${q[q.length - 1]}`;
}
