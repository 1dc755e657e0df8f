/**
 * What the router works with: the runtime state it reads (`RouterState`), the precomputed
 * lists, the extra (composite) tool seam and the per-request extras.
 * @module
 */
import type { AggregatedView } from "../core/aggregation/mod.ts";
import type { Aggregation } from "../crds/aggregation.ts";
import type { Identity } from "../core/auth/identity.ts";
import type { ClientCapabilities, RequestId, Tool } from "../core/sdk.ts";
import type { ViewSet } from "./capability_views.ts";
import type { Backend } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import type { AuthzGate } from "./authz/gate.ts";
import type { RateLimiter } from "./rate_limit/limiter.ts";
import type { Auditor } from "./audit/auditor.ts";
import type { OptimizerTools } from "./optimizer/meta_tools.ts";

/** Precomputed list results (sorted), rebuilt when the view or the extra tools change. */
export interface Lists {
  tools: Tool[];
  resources: AnyObject[];
  resourceTemplates: AnyObject[];
  prompts: AnyObject[];
}

/** What a composite (or any extra) tool handler gets. */
export interface ExtraToolContext {
  identity: Identity;
  /** The client's request id: server-to-client requests travel on its response stream. */
  requestId: RequestId;
  /** The calling session: `session.request(...)` relays elicitation/sampling to the client. */
  session: SessionPeer;
  /** Reports progress to the client (no-op when the client sent no progressToken). */
  progress(p: { progress: number; total?: number; message?: string }): void;
  signal: AbortSignal;
  /** Calls any routable tool, hidden ones included (`name` or `backend.originalTool`). */
  callTool(ref: string, args: AnyObject, opts?: { signal?: AbortSignal }): Promise<AnyObject>;
  /** The audit trail (composite workflow and step events); absent when off. */
  audit?: Auditor | undefined;
}

/** A tool served by the proxy itself (the composite-tools seam). */
export interface ExtraTool {
  tool: Tool;
  handler(args: AnyObject, ctx: ExtraToolContext): Promise<AnyObject>;
  /**
   * Backends the handler's calls go to (a composite tool's step backends). While one of them is
   * not routable the tool is left out of `tools/list`, and a call to it fails as a call to a
   * tool of that backend does. Absent or empty: always listed.
   */
  backends?: readonly string[];
}

/** The runtime state the router reads. */
export interface RouterState {
  /** Routable backends only: what clients see. */
  readonly view: AggregatedView;
  /** Every discovered backend (routable or not): for better errors. */
  readonly fullView: AggregatedView;
  readonly lists: Lists;
  readonly extraTools: ReadonlyMap<string, ExtraTool>;
  /** The aggregation settings (strategy and prefix format of unknown names). */
  readonly aggregation?: Aggregation | undefined;
  backend(name: string): Backend | undefined;
  /** Throws `BackendUnavailableError` when the backend must not get requests now. */
  assertRoutable(name: string): void;
  /** `partialFailureMode: fail` → the unavailable backends with reasons, else []. */
  failingBackends(): { name: string; reason: string }[];
  /** Resolves once the first discovery finished. */
  ready(): Promise<void>;
  /**
   * Configured backends whose capabilities were never discovered, with why (and their
   * discovery is asked for now). Read only when a name is unknown.
   */
  undiscoveredBackends(): { name: string; reason: string }[];
  /** Cedar authorization (incomingAuth.authzConfig); absent: everyone may use everything. */
  readonly authz?: AuthzGate | undefined;
  /** Rate limits on tools/call (`rateLimiting`, proxy/rate_limit/); absent when off. */
  readonly rateLimits?: RateLimiter | undefined;
  /** The audit trail (proxy/audit/); absent when off (one null check per request). */
  readonly audit?: Auditor | undefined;
  /** Tool search (`optimizer`, optimizer/meta_tools.ts): clients see find_tool and call_tool. */
  readonly optimizer?: OptimizerTools | undefined;
  /**
   * The views of callers declaring `caps` (capability_views.ts); absent: everyone sees the base
   * views (`view`, `fullView`, `lists`).
   */
  viewsFor?(caps: ClientCapabilities): ViewSet | Promise<ViewSet>;
  /** Forwards a client's `notifications/roots/list_changed` to its own backend sessions. */
  clientRootsChanged?(session: SessionPeer): void;
}

export interface RequestExtra {
  requestId: RequestId;
  signal: AbortSignal;
}
