/**
 * The proxy's live state: backends, their health, the aggregated view and precomputed lists,
 * client sessions, and extra (composite) tools. Applies configs (start and hot reload),
 * re-discovers on list_changed and health transitions, and tells sessions what changed.
 *
 * `tools/list` holds the routable backends' tools plus the extra tools whose `backends` (a
 * composite tool's step backends) are all discovered and routable: while one is not, the
 * composite tool disappears with that backend's own tools and comes back with them.
 * @module
 */
import type { BackendConfig, VmcpConfig } from "../crds/vmcp_config.ts";
import { aggregate, type AggregatedView } from "../core/aggregation/mod.ts";
import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { parseDuration } from "../core/duration.ts";
import { compareStrings } from "../core/aggregation/types.ts";
import { Backend, type BackendEvents, type HeadersFor } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { describeError, refusal } from "./backends/errors.ts";
import { HealthMonitor } from "./health/monitor.ts";
import type { ExtraTool, Lists, RouterState } from "./router.ts";
import type { ProxySession } from "./server/session.ts";
import type { ProxyMetrics } from "./server/metrics.ts";
import { CompositeToolRegistry } from "./composite/registry.ts";
import { ListenHub, type ListenOwner } from "./server/listen.ts";
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

/** Milliseconds of the backend's request timeout. */
export function backendTimeoutMs(config: VmcpConfig, backend: string): number {
  const t = config.operational?.timeouts;
  return parseDuration(t?.perWorkload?.[backend] ?? t?.default ?? "30s");
}

export class ProxyRuntime implements RouterState {
  config: VmcpConfig;
  view: AggregatedView = emptyView();
  fullView: AggregatedView = emptyView();
  #collisions = "[]";
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
  #signatures = { tools: "", resources: "", prompts: "" };
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
    this.#applyBackends(this.config);
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
    const collisions = JSON.stringify(this.fullView.collisions);
    if (collisions !== this.#collisions) {
      this.#collisions = collisions;
      for (const c of this.fullView.collisions) {
        this.log.warn("name collision left after conflict resolution; one claimant dropped", {
          ...c,
        });
      }
    }
    // An extra tool is listed only while every backend it needs is routable (like their tools).
    const extra = [...this.extraTools.values()]
      .filter((e) => (e.backends ?? []).every((b) => routableNames.has(b)))
      .map((e) => e.tool);
    const tools = [...this.view.tools, ...extra].sort((a, b) => compareStrings(a.name, b.name));
    this.lists = {
      tools,
      resources: this.view.resources as AnyObject[],
      resourceTemplates: this.view.resourceTemplates as AnyObject[],
      prompts: this.view.prompts as AnyObject[],
    };
    this.#optimizer?.search.sync(this.lists.tools);
    this.#notifyChanges();
    this.#opts.metrics?.setTools(this.lists.tools.length);
    if ([...this.backends.values()].every((b) => b.caps)) {
      const routes = this.fullView.toolRoutes;
      this.#rateLimits.warnUnmatchedTools((n) =>
        routes.has(n) || this.extraTools.has(n) ||
        (this.#optimizer !== undefined && n === FIND_TOOL)
      );
    }
  }

  #notifyChanges(): void {
    const next = {
      tools: JSON.stringify(this.lists.tools),
      resources: JSON.stringify([this.lists.resources, this.lists.resourceTemplates]),
      prompts: JSON.stringify(this.lists.prompts),
    };
    const prev = this.#signatures;
    this.#signatures = next;
    if (!this.#isReady) return;
    for (const s of this.sessions.values()) {
      if (next.tools !== prev.tools) s.server.sendToolListChanged().catch(() => {});
      if (next.resources !== prev.resources) s.server.sendResourceListChanged().catch(() => {});
      if (next.prompts !== prev.prompts) s.server.sendPromptListChanged().catch(() => {});
    }
    const hub = this.listenHub;
    if (next.tools !== prev.tools) hub.publish({ method: "notifications/tools/list_changed" });
    if (next.resources !== prev.resources) {
      hub.publish({ method: "notifications/resources/list_changed" });
    }
    if (next.prompts !== prev.prompts) {
      hub.publish({ method: "notifications/prompts/list_changed" });
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

  #events(): BackendEvents {
    return {
      onListChanged: (backend) => this.scheduleRediscover(backend),
      onResourceUpdated: (backend, owner, params) => this.#resourceUpdated(backend, owner, params),
      onOutcome: (backend, method, ok, ms, error) => {
        this.#opts.metrics?.backendRequest(backend, method, ok, ms);
        const h = this.health.get(backend);
        if (!h || method === "discover" || method === "initialize") return;
        if (ok) h.recordCallSuccess();
        else h.recordFailure(error);
      },
    };
  }

  #resourceUpdated(backend: string, owner: SessionPeer | undefined, params: AnyObject): void {
    const uri = params.uri;
    if (typeof uri !== "string") return;
    const note = { method: "notifications/resources/updated", params };
    if (owner) {
      const s = this.sessions.get(owner.id);
      if (s) {
        if (s.subscriptions.has(uri)) s.notify(note).catch(() => {});
        return;
      }
      // An identity's pooled backend session (ADR 0010 §5): that identity's listen streams only.
      const key = (owner as Partial<ListenOwner>).listenIdentityKey;
      if (typeof key === "string") this.listenHub.publish(note, { identityKey: key });
      return;
    }
    for (const s of this.sessions.values()) {
      if (s.subscriptions.has(uri)) s.notify(note).catch(() => {});
    }
    this.log.debug("resource updated", { backend, uri });
  }

  #createBackend(cfg: BackendConfig, config: VmcpConfig): Backend {
    const headersFor = this.#opts.outgoingAuthFor?.(cfg, config);
    const backend = new Backend({
      config: cfg,
      timeoutMs: backendTimeoutMs(config, cfg.name),
      events: this.#events(),
      log: this.log,
      ...(headersFor ? { headersFor } : {}),
      ...(this.#opts.shareHttp ? { shareHttp: true } : {}),
      // Backend sessions of 2026-07-28 callers, per identity (ADR 0010): bounded and expired
      // like client sessions.
      identityPool: {
        max: config.sessionStorage?.maxLocalSessions,
        idleMs: parseDuration(config.sessionStorage?.ttl ?? "30m"),
        clock: this.#clock,
      },
    });
    const monitor = new HealthMonitor(backend, config, {
      clock: this.#clock,
      log: this.log,
      onChange: (routable) => {
        this.#opts.metrics?.setHealth(backend.name, monitor.snapshot().status);
        if (routable) {
          void backend.resetSessions();
          // Back in the view now with the capabilities it had (no window in which its tools
          // are unknown), then refreshed: it may have restarted with other ones.
          this.recompute();
          this.scheduleRediscover(backend.name);
        } else {
          backend.failInFlight(monitor.snapshot().message);
          this.recompute();
        }
      },
      onDiscovered: () => this.recompute(),
    });
    this.backends.set(cfg.name, backend);
    this.health.set(cfg.name, monitor);
    this.#opts.metrics?.setHealth(backend.name, monitor.snapshot().status);
    return backend;
  }

  /** Creates/replaces/removes backends to match `config`; returns the new and changed ones. */
  #applyBackends(config: VmcpConfig): Backend[] {
    const wanted = new Map(config.backends.map((b) => [b.name, b]));
    const fresh: Backend[] = [];
    for (const [name, b] of this.backends) {
      const next = wanted.get(name);
      if (next && JSON.stringify(next) === JSON.stringify(b.config)) {
        b.timeoutMs = backendTimeoutMs(config, name);
        continue;
      }
      this.#removeBackend(name);
    }
    for (const cfg of config.backends) {
      if (!this.backends.has(cfg.name)) fresh.push(this.#createBackend(cfg, config));
    }
    return fresh;
  }

  #removeBackend(name: string): void {
    const b = this.backends.get(name);
    this.backends.delete(name);
    this.health.get(name)?.stop();
    this.health.delete(name);
    this.#opts.metrics?.removeBackend(name);
    void b?.close();
  }

  /**
   * Applies a new (validated) config without dropping sessions: new backends are connected,
   * removed ones closed, health settings and aggregation updated, sessions told what changed.
   */
  async applyConfig(config: VmcpConfig): Promise<void> {
    const healthChanged = JSON.stringify(config.operational?.failureHandling) !==
      JSON.stringify(this.config.operational?.failureHandling);
    if (
      JSON.stringify(config.operational?.inputRequired) !==
        JSON.stringify(this.config.operational?.inputRequired)
    ) {
      this.log.warn(
        "operational.inputRequired changed; the proxy keeps the settings it started with until restarted",
      );
    }
    if (JSON.stringify(config.telemetry) !== JSON.stringify(this.config.telemetry)) {
      this.log.warn(
        "telemetry changed; the proxy keeps the settings it started with until restarted",
      );
    }
    this.config = config;
    this.#rateLimits.apply(config);
    let optimizer = this.#optimizer;
    try {
      optimizer = optimizerFromConfig(config, this.#optimizer, {
        log: this.log,
        clock: this.#clock,
      });
    } catch (err) {
      this.log.error("optimizer settings not applied; the previous ones stay", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    if (optimizer !== this.#optimizer) {
      this.#optimizer?.search.close();
      this.#optimizer = optimizer;
      this.#signatures = { ...this.#signatures, tools: "" }; // clients re-list their tools
    }
    const authz = authzFromConfig(config, this.#authz);
    if (authz !== this.#authz) {
      this.#authz = authz;
      // What each caller may see changed: every list counts as changed (clients re-list).
      this.#signatures = { tools: "", resources: "", prompts: "" };
    }
    const fresh = this.#applyBackends(config);
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
