/**
 * The proxy's live state: backends, their health, the aggregated view and precomputed lists,
 * client sessions, and extra (composite) tools. Applies configs (start and hot reload),
 * re-discovers on list_changed and health transitions, and tells sessions what changed.
 *
 * `tools/list` holds the routable backends' tools plus the extra tools whose `backends` (a
 * composite tool's step backends) are all discovered and routable: while one is not, the
 * composite tool disappears with that backend's own tools and comes back with them.
 *
 * Parts live beside it: creating/replacing/removing backends with their health monitors and
 * routing their events (runtime_backends.ts), building the lists and announcing changes
 * (runtime_lists.ts), and what a reload decides before touching backends (runtime_reload.ts).
 * @module
 */
import type { BackendConfig, VmcpConfig } from "../crds/vmcp_config.ts";
import { aggregate, type AggregatedView } from "../core/aggregation/mod.ts";
import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import type { Backend, HeadersFor } from "./backends/backend.ts";
import type { SessionPeer } from "./backends/connection.ts";
import { describeError, refusal } from "./backends/errors.ts";
import type { HealthMonitor } from "./health/monitor.ts";
import type { ExtraTool, Lists, RouterState } from "./router_state.ts";
import type { ProxySession } from "./server/session.ts";
import type { ProxyMetrics } from "./server/metrics.ts";
import { CompositeToolRegistry } from "./composite/registry.ts";
import { ListenHub } from "./server/listen.ts";
import { applyBackends, type BackendHost } from "./runtime_backends.ts";
import {
  healthSettingsChanged,
  reloadedOptimizer,
  warnRestartOnlyChanges,
} from "./runtime_reload.ts";
import { buildLists, CollisionWarnings, ListChangeNotifier } from "./runtime_lists.ts";
import { PROXY_CAPABILITIES } from "./server/session.ts";
import type { AuthzGate } from "./authz/gate.ts";
import type { Auditor } from "./audit/auditor.ts";
import { authzFromConfig, type ConfiguredAuthz } from "./authz/from_config.ts";
import { optimizerFromConfig } from "./optimizer/from_config.ts";
import { FIND_TOOL, type OptimizerTools } from "./optimizer/meta_tools.ts";
import { CapabilityViews, type ViewBackend, type ViewSet } from "./capability_views.ts";
import type { ClientCapabilities } from "../core/sdk.ts";
import { RuntimeRateLimits } from "./rate_limit/from_config.ts";
import type { RateLimiter } from "./rate_limit/limiter.ts";

export interface RuntimeOptions {
  config: VmcpConfig;
  log: Logger;
  clock?: Clock;
  metrics?: ProxyMetrics;
  /** Outgoing auth per backend (the proxy/auth seam); undefined: no extra headers. */
  outgoingAuthFor?: (backend: BackendConfig, config: VmcpConfig) => HeadersFor | undefined;
  /** HTTP backends: all client sessions share one connection. @default false */
  shareHttp?: boolean;
}

const DEBOUNCE_MS = 25;

function emptyView(): AggregatedView {
  return aggregate([], undefined);
}

export { backendTimeoutMs } from "./runtime_backends.ts";

export class ProxyRuntime implements RouterState {
  config: VmcpConfig;
  view: AggregatedView = emptyView();
  fullView: AggregatedView = emptyView();
  readonly #collisions = new CollisionWarnings();
  lists: Lists = { tools: [], resources: [], resourceTemplates: [], prompts: [] };
  readonly extraTools = new Map<string, ExtraTool>();
  /** The audit trail (`config.audit`, set by serve.ts); undefined while off. */
  audit: Auditor | undefined = undefined;
  /** Cedar authorization (incomingAuth.authzConfig), replaced when the policies change. */
  #authz: ConfiguredAuthz;
  /** Tool search (`optimizer`): its index follows `lists.tools` (recompute). */
  #optimizer: OptimizerTools | undefined;
  /** Rate limits (`rateLimiting`); the limiter is undefined while off. */
  readonly #rateLimits: RuntimeRateLimits;
  /** Composite tools compiled from `config.compositeTools`, kept in `extraTools`. */
  readonly composites: CompositeToolRegistry;
  readonly sessions = new Map<string, ProxySession>();
  readonly backends = new Map<string, Backend>();
  readonly health = new Map<string, HealthMonitor>();
  readonly log: Logger;
  /** `subscriptions/listen` streams of modern clients (list changes fan out here too). */
  readonly listenHub: ListenHub;
  readonly #opts: RuntimeOptions;
  readonly #clock: Clock;
  #ready!: Promise<void>;
  #markReady!: () => void;
  #isReady = false;
  readonly #listChanges = new ListChangeNotifier();
  /** The parts of the runtime the backend lifecycle works on (runtime_backends.ts). */
  readonly #host: BackendHost;
  readonly #pending = new Map<string, ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(opts: RuntimeOptions) {
    this.#opts = opts;
    this.config = opts.config;
    this.log = opts.log;
    this.#authz = authzFromConfig(opts.config);
    this.#optimizer = optimizerFromConfig(opts.config, undefined, {
      log: opts.log,
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
    this.composites = new CompositeToolRegistry(opts.log);
    this.#clock = opts.clock ?? systemClock;
    this.#rateLimits = new RuntimeRateLimits(opts.config, {
      clock: this.#clock,
      log: opts.log,
      registry: opts.metrics?.registry,
    });
    this.#ready = new Promise((r) => (this.#markReady = r));
    this.#capabilityViews = new CapabilityViews({
      backends: () => this.#viewBackends(),
      aggregation: () => this.config.aggregation,
      extraTools: this.extraTools,
      base: () => this,
    }, { log: opts.log, clock: this.#clock });
    this.listenHub = new ListenHub({
      log: opts.log,
      clock: this.#clock,
      capabilities: () => PROXY_CAPABILITIES,
      heartbeatMs: () => (this.config.server?.heartbeatSeconds ?? 30) * 1000,
      serverInfo: { name: opts.config.name, version: "1.0.0" },
    });
    this.#host = {
      backends: this.backends,
      health: this.health,
      sessions: this.sessions,
      listenHub: this.listenHub,
      log: opts.log,
      clock: this.#clock,
      metrics: opts.metrics,
      outgoingAuthFor: opts.outgoingAuthFor,
      shareHttp: opts.shareHttp ?? false,
      recompute: () => this.recompute(),
      scheduleRediscover: (name) => this.scheduleRediscover(name),
    };
  }

  get authz(): AuthzGate | undefined {
    return this.#authz.gate;
  }

  get optimizer(): OptimizerTools | undefined {
    return this.#optimizer;
  }

  get rateLimits(): RateLimiter | undefined {
    return this.#rateLimits.limiter;
  }

  /** True once the first discovery finished (readiness). */
  get isReady(): boolean {
    return this.#isReady;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** Views of clients declaring other capabilities than vmcp's discovery (ADR 0012). */
  readonly #capabilityViews: CapabilityViews;

  viewsFor(caps: ClientCapabilities): ViewSet | Promise<ViewSet> {
    return this.#capabilityViews.viewFor(caps);
  }

  clientRootsChanged(session: SessionPeer): void {
    for (const b of this.backends.values()) {
      void b.notifySession(session.id, "notifications/roots/list_changed");
    }
  }

  /** A 2026-07-28 caller's `roots/list_changed`: its pooled legacy backend sessions end. */
  identityRootsChanged(identityKey: string): void {
    for (const b of this.backends.values()) b.identityRootsChanged(identityKey);
  }

  *#viewBackends(): Iterable<ViewBackend> {
    for (const b of this.backends.values()) {
      yield {
        name: b.name,
        caps: b.caps,
        routable: !this.health.get(b.name)?.blockReason(),
        discover: (caps) => b.discoverFor(caps),
      };
    }
  }

  backend(name: string): Backend | undefined {
    return this.backends.get(name);
  }

  get partialFailureMode(): "fail" | "best_effort" {
    return this.config.operational?.failureHandling?.partialFailureMode ?? "fail";
  }

  assertRoutable(name: string): void {
    const h = this.health.get(name);
    if (!h) return;
    const reason = h.admit();
    if (reason) throw refusal(name, reason);
  }

  get aggregation() {
    return this.config.aggregation;
  }

  undiscoveredBackends(): { name: string; reason: string }[] {
    const out: { name: string; reason: string }[] = [];
    for (const b of this.backends.values()) {
      if (b.caps) continue;
      const h = this.health.get(b.name);
      h?.requestCheck();
      const snap = h?.snapshot();
      const reason = snap && snap.consecutiveFailures > 0
        ? snap.message
        : "no attempt finished yet";
      out.push({ name: b.name, reason });
    }
    return out;
  }

  failingBackends(): { name: string; reason: string }[] {
    if (this.partialFailureMode !== "fail") return [];
    const out: { name: string; reason: string }[] = [];
    for (const b of this.backends.values()) {
      const h = this.health.get(b.name);
      const reason = h?.blockReason() ??
        (b.caps
          ? undefined
          : `capabilities not discovered: ${h?.snapshot().message ?? "no attempt yet"}`);
      if (reason) out.push({ name: b.name, reason });
    }
    return out;
  }

  /** Connects every backend, runs the first discovery (bounded by each backend's deadline). */
  async start(): Promise<void> {
    applyBackends(this.#host, this.config);
    await this.discoverAll();
    this.#isReady = true;
    this.#markReady();
    for (const h of this.health.values()) h.start();
  }

  /** Discovers every backend in parallel, then recomputes the view once. */
  async discoverAll(): Promise<void> {
    await Promise.all([...this.backends.values()].map((b) => this.#discover(b)));
    this.recompute();
  }

  async #discover(b: Backend): Promise<void> {
    try {
      await b.discover();
      this.health.get(b.name)?.recordSuccess();
    } catch (err) {
      this.health.get(b.name)?.recordFailure(err);
      this.log.warn("backend discovery failed", { backend: b.name, error: describeError(err) });
    }
  }

  /** Re-discovers one backend soon (coalescing bursts), then recomputes. */
  scheduleRediscover(name: string): void {
    if (this.#closed || this.#pending.has(name)) return;
    this.#pending.set(
      name,
      setTimeout(async () => {
        this.#pending.delete(name);
        const b = this.backends.get(name);
        if (!b || this.#closed) return;
        await this.#discover(b);
        this.recompute();
      }, DEBOUNCE_MS),
    );
  }

  /** Rebuilds views and lists from the discovered capabilities; notifies sessions of changes. */
  recompute(): void {
    const routable = [];
    const routableNames = new Set<string>();
    const all = [];
    for (const b of this.backends.values()) {
      if (!b.caps) continue;
      all.push(b.caps);
      if (this.health.get(b.name)?.blockReason()) continue;
      routable.push(b.caps);
      routableNames.add(b.name);
    }
    const aggregation = this.config.aggregation;
    this.view = aggregate(routable, aggregation);
    this.fullView = routable.length === all.length ? this.view : aggregate(all, aggregation);
    this.#capabilityViews.invalidate(); // other capability sets' views: rebuilt on next use
    this.composites.sync(this.config, this.fullView, this.extraTools);
    for (const w of this.view.warnings) this.log.debug("aggregation", { warning: w });
    // Names left claimed twice after conflict resolution (all backends): warn once per change.
    this.#collisions.warn(this.fullView, this.log);
    // An extra tool is listed only while every backend it needs is routable (like their tools).
    this.lists = buildLists(this.view, this.extraTools, routableNames);
    this.#optimizer?.search.sync(this.lists.tools);
    this.#listChanges.publish(this.lists, this.sessions.values(), this.listenHub, this.#isReady);
    this.#opts.metrics?.setTools(this.lists.tools.length);
    if ([...this.backends.values()].every((b) => b.caps)) {
      const routes = this.fullView.toolRoutes;
      this.#rateLimits.warnUnmatchedTools((n) =>
        routes.has(n) || this.extraTools.has(n) ||
        (this.#optimizer !== undefined && n === FIND_TOOL)
      );
    }
  }

  /** Registers a tool served by the proxy itself (composite tools); replaces one of that name. */
  registerTool(tool: ExtraTool): void {
    this.extraTools.set(tool.tool.name, tool);
    this.recompute();
  }

  unregisterTool(name: string): void {
    if (this.extraTools.delete(name)) this.recompute();
  }

  /**
   * Applies a new (validated) config without dropping sessions: new backends are connected,
   * removed ones closed, health settings and aggregation updated, sessions told what changed.
   */
  async applyConfig(config: VmcpConfig): Promise<void> {
    const healthChanged = healthSettingsChanged(this.config, config);
    warnRestartOnlyChanges(this.log, this.config, config);
    this.config = config;
    this.#rateLimits.apply(config);
    const optimizer = reloadedOptimizer(config, this.#optimizer, this.log, this.#clock);
    if (optimizer !== this.#optimizer) {
      this.#optimizer?.search.close();
      this.#optimizer = optimizer;
      this.#listChanges.forget("tools"); // clients re-list their tools
    }
    const authz = authzFromConfig(config, this.#authz);
    if (authz !== this.#authz) {
      this.#authz = authz;
      // What each caller may see changed: every list counts as changed (clients re-list).
      this.#listChanges.forget("all");
    }
    const fresh = applyBackends(this.#host, config);
    if (healthChanged) {
      for (const [name, h] of this.health) {
        if (fresh.some((b) => b.name === name)) continue;
        h.reconfigure(config);
      }
    }
    await Promise.all(fresh.map((b) => this.#discover(b)));
    for (const b of fresh) this.health.get(b.name)?.start();
    this.recompute();
  }

  /**
   * Forgets a closed session and closes its per-session backend connections; an ending
   * session's backend sessions are terminated first (`ProxySession.ending`).
   */
  async closeSession(session: ProxySession): Promise<void> {
    this.sessions.delete(session.id);
    await Promise.all(
      [...this.backends.values()].map((b) => b.closeSession(session.id, session.ending)),
    );
  }

  /**
   * Closes every session and backend (stdio children are terminated). `endSessions`: the
   * sessions end with this process (an in-process store), so their backend sessions are
   * terminated too; with a shared store other replicas may restore them, so they stay.
   */
  async close(opts: { endSessions?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.#authz.gate?.dispose();
    this.#optimizer?.search.close();
    this.listenHub.close();
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#pending.clear();
    for (const h of this.health.values()) h.stop();
    const sessions = [...this.sessions.values()];
    await Promise.all(sessions.map((s) => opts.endSessions ? s.end() : s.close()));
    this.sessions.clear();
    await Promise.all([...this.backends.values()].map((b) => b.close()));
    await this.#rateLimits.close();
  }
}
