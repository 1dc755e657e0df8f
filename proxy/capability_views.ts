/**
 * What clients of each capability set see (docs/adr/0012-lists-per-client-capability-set.md). A
 * backend may offer a client tools (or prompts, resources) that depend on the capabilities the
 * client declared (server-everything lists `get-roots-list` only to clients that declare roots).
 * vmcp's own discovery declares one set (`BASE_CAPABILITIES`); a client that declares another
 * gets a view built from what each backend lists to a client with that set:
 *
 * - **Key.** The client's normalized capability set (capability_set.ts). The base set's key is
 *   the runtime's own view (no second discovery); every other key has one entry here, shared by
 *   every session and request with that set (lists are the same for every caller; Cedar filters
 *   them per caller afterwards, as it does the base lists).
 * - **Discovery.** Per (set, backend), with a backend session of its own that declares the set
 *   (`ViewBackend.discover`), once. It is kept while the backend's base discovery result is the
 *   same object: a rediscovery (list_changed, health transition, reload) makes it stale, and the
 *   next client of the set discovers again. Concurrent clients of one set wait for one
 *   discovery, but never for one started before the last state change: a client that heard
 *   list_changed (sent after `invalidate`) is listed the change. At most
 *   `MAX_CONCURRENT_DISCOVERIES` run at once proxy-wide. A discovery that fails falls back to
 *   the backend's base result for `RETRY_AFTER_MS` (logged at warn); an unroutable backend is
 *   not asked (its base result stands in, in `fullView` only).
 * - **Views.** `buildViews` (pure, deterministic) aggregates the sets' results exactly as the
 *   runtime aggregates the base ones (conflict resolution, overrides, filters, composite tools
 *   listed while their backends are routable). An entry's views are rebuilt when the runtime's
 *   state changed (`invalidate`, called by every recompute), else reused: the same list arrays,
 *   so their page texts (preserialized.ts) and Cedar's filtered lists stay cached.
 * - **Bound.** At most `MAX_VIEWS` entries, least recently used dropped first. And at most
 *   `NEW_SETS_PER_MINUTE` sets not seen before get an entry per minute (a token bucket on the
 *   injected clock): the `extensions` member lets a client invent any number of sets, and each
 *   new one costs a discovery of every backend (a process, for stdio). Past that budget an
 *   unseen set is served the base views (vmcp's own set, which declares every feature vmcp
 *   relays), with a warning at most once a minute; sets already held are not affected.
 * @module
 */
import { aggregate, type AggregatedView } from "../core/aggregation/mod.ts";
import type { BackendCapabilities as Listed } from "../core/aggregation/mod.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { type Logger, warnAtMostEvery } from "../core/log.ts";
import type { ClientCapabilities } from "../core/sdk.ts";
import type { Aggregation } from "../crds/aggregation.ts";
import { describeError } from "./backends/errors.ts";
import { VMCP_CAPABILITIES } from "./backends/era_probe.ts";
import { type CapabilitySet, capabilitySetOf, normalizeCapabilities } from "./capability_set.ts";
import type { ExtraTool, Lists } from "./router_state.ts";
import { buildLists } from "./runtime_lists.ts";

/** Capability sets whose views are kept at most. */
export const MAX_VIEWS = 32;
/** Capability-set discoveries running at once, proxy-wide, at most. */
export const MAX_CONCURRENT_DISCOVERIES = 4;
/** Capability sets not seen before that may get an entry (and their discoveries) per minute. */
export const NEW_SETS_PER_MINUTE = 32;
/** A failed discovery of a (set, backend) is retried after this long. */
export const RETRY_AFTER_MS = 5000;

/** The capabilities vmcp's own discovery declares (both eras' discovery connections). */
export const BASE_CAPABILITIES: ClientCapabilities = VMCP_CAPABILITIES as ClientCapabilities;

/** What the router reads of one view: routable backends, all discovered ones, the lists. */
export interface ViewSet {
  readonly view: AggregatedView;
  readonly fullView: AggregatedView;
  readonly lists: Lists;
}

/** One backend as the views need it. */
export interface ViewBackend {
  readonly name: string;
  /** The base discovery's result (undefined: never discovered). */
  readonly caps: Listed | undefined;
  /** Whether clients are routed to it now. */
  readonly routable: boolean;
  /** Lists what the backend offers a client declaring `capabilities`. */
  discover(capabilities: ClientCapabilities): Promise<Listed>;
}

/** The runtime state views are built from. */
export interface ViewSource {
  backends(): Iterable<ViewBackend>;
  aggregation(): Aggregation | undefined;
  readonly extraTools: ReadonlyMap<string, ExtraTool>;
  /** The base set's views (the runtime's own). */
  base(): ViewSet;
}

/**
 * The views of one capability set: `caps` per backend (all discovered ones), aggregated over the
 * routable ones (`view`) and over all (`fullView`); extra tools are listed while every backend
 * they need is routable, as in the runtime's base lists.
 */
export function buildViews(
  caps: readonly Listed[],
  routable: ReadonlySet<string>,
  aggregation: Aggregation | undefined,
  extraTools: ReadonlyMap<string, ExtraTool>,
): ViewSet {
  const live = caps.filter((c) => routable.has(c.backend));
  const view = aggregate(live, aggregation);
  const fullView = live.length === caps.length ? view : aggregate(caps, aggregation);
  return { view, fullView, lists: buildLists(view, extraTools, routable) };
}

interface Discovered {
  /** The base result this one belongs to (stale once the backend is rediscovered). */
  basis: Listed;
  caps?: Listed;
  failedAt?: number;
  pending?: Promise<Listed>;
}

interface Entry {
  set: CapabilitySet;
  perBackend: Map<string, Discovered>;
  views?: ViewSet;
  generation: number;
  /**
   * The build in flight and the state generation it started from. A caller at a later
   * generation never joins it: it read the backends' results before the change, and a client
   * told of the change (list_changed is sent after `invalidate`) must be listed the change.
   */
  building?: { generation: number; views: Promise<ViewSet> } | undefined;
  /** When it was last asked for (`#uses` then): the least recently used is dropped first. */
  used: number;
}

export interface CapabilityViewsOptions {
  log: Logger;
  clock?: Clock;
  /** @default MAX_VIEWS */
  max?: number;
}

export class CapabilityViews {
  readonly #src: ViewSource;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #max: number;
  readonly #baseKey = normalizeCapabilities(BASE_CAPABILITIES).key;
  readonly #entries = new Map<string, Entry>();
  #uses = 0;
  #generation = 0;
  #running = 0;
  readonly #queue: (() => void)[] = [];
  /** Token bucket of new sets (`NEW_SETS_PER_MINUTE`), refilled on use. */
  #newSets = NEW_SETS_PER_MINUTE;
  #newSetsAt: number;
  readonly #warnOverBudget: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(src: ViewSource, opts: CapabilityViewsOptions) {
    this.#src = src;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
    this.#max = opts.max ?? MAX_VIEWS;
    this.#newSetsAt = this.#clock.now();
    this.#warnOverBudget = warnAtMostEvery(opts.log, 60_000, () => this.#clock.now());
  }

  /** Capability sets with an entry (for tests and /status). */
  get size(): number {
    return this.#entries.size;
  }

  /** The runtime's state changed: every entry's views are rebuilt on next use. */
  invalidate(): void {
    this.#generation++;
  }

  /**
   * The views of clients declaring `caps`: synchronous when current (the common case: a set seen
   * before, nothing changed since), else built, discovering what is missing.
   */
  viewFor(caps: ClientCapabilities | undefined): ViewSet | Promise<ViewSet> {
    const set = capabilitySetOf(caps);
    if (set.key === this.#baseKey) return this.#src.base();
    let e = this.#entries.get(set.key);
    if (e) {
      e.used = ++this.#uses;
      if (e.views && e.generation === this.#generation) return e.views;
    } else {
      if (!this.#takeNewSet()) {
        this.#warnOverBudget(
          `more than ${NEW_SETS_PER_MINUTE} client capability sets not seen before in a minute; serving the base lists to the new ones`,
          { capabilities: set.key.slice(0, 256) },
        );
        return this.#src.base();
      }
      if (this.#entries.size >= this.#max) this.#dropLeastRecentlyUsed();
      e = { set, perBackend: new Map(), generation: -1, used: ++this.#uses };
      this.#entries.set(set.key, e);
    }
    const entry = e;
    const generation = this.#generation;
    if (entry.building?.generation === generation) return entry.building.views;
    const views: Promise<ViewSet> = this.#build(entry, generation).finally(() => {
      if (entry.building?.views === views) entry.building = undefined;
    });
    entry.building = { generation, views };
    return views;
  }

  /** Takes one token of the new-set budget; false when none is left. */
  #takeNewSet(): boolean {
    const now = this.#clock.now();
    const refill = (Math.max(0, now - this.#newSetsAt) * NEW_SETS_PER_MINUTE) / 60_000;
    this.#newSets = Math.min(NEW_SETS_PER_MINUTE, this.#newSets + refill);
    this.#newSetsAt = now;
    if (this.#newSets < 1) return false;
    this.#newSets--;
    return true;
  }

  #dropLeastRecentlyUsed(): void {
    let oldest: [string, Entry] | undefined;
    for (const kv of this.#entries) if (!oldest || kv[1].used < oldest[1].used) oldest = kv;
    if (oldest) this.#entries.delete(oldest[0]);
  }

  async #build(e: Entry, generation: number): Promise<ViewSet> {
    const all: ViewBackend[] = [];
    for (const b of this.#src.backends()) if (b.caps) all.push(b);
    // A backend a reload removed: its discovery for this set is not kept.
    for (const name of e.perBackend.keys()) {
      if (!all.some((b) => b.name === name)) e.perBackend.delete(name);
    }
    const caps = await Promise.all(all.map((b) => this.#listed(e, b)));
    const routable = new Set(all.filter((b) => b.routable).map((b) => b.name));
    const views = buildViews(caps, routable, this.#src.aggregation(), this.#src.extraTools);
    // Built from a state that changed meanwhile: served to the callers that asked before the
    // change, rebuilt for the next one.
    if (generation === this.#generation) {
      e.views = views;
      e.generation = generation;
    }
    return views;
  }

  /** What `b` lists for `e`'s set: known, being discovered, or discovered now. */
  async #listed(e: Entry, b: ViewBackend): Promise<Listed> {
    const basis = b.caps!;
    let d = e.perBackend.get(b.name);
    if (d?.basis !== basis) e.perBackend.set(b.name, d = { basis });
    if (d.caps) return d.caps;
    // Not routable: only in `fullView` (better errors); not asked while it is down.
    if (!b.routable) return basis;
    if (d.failedAt !== undefined && this.#clock.now() - d.failedAt < RETRY_AFTER_MS) return basis;
    const entry = d;
    entry.pending ??= this.#limited(() => b.discover(e.set.capabilities)).finally(() => {
      entry.pending = undefined;
    });
    try {
      const got = await entry.pending;
      entry.caps = { ...got, backend: b.name };
      entry.failedAt = undefined;
      return entry.caps;
    } catch (err) {
      entry.failedAt = this.#clock.now();
      this.#log.warn("backend discovery for a client capability set failed; using its base lists", {
        backend: b.name,
        capabilities: e.set.key,
        error: describeError(err),
      });
      return basis;
    }
  }

  /** Runs `fn` when fewer than `MAX_CONCURRENT_DISCOVERIES` run. */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing discovery hands its slot to the next waiter (the count stays).
    if (this.#running >= MAX_CONCURRENT_DISCOVERIES) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else this.#running++;
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
