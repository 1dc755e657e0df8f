/**
 * Lease-based leader election on `coordination.k8s.io/v1`, following client-go's
 * `tools/leaderelection`:
 *
 * - acquire when the Lease is absent, released (empty holder), ours, or expired — expiry is
 *   judged by *local* time since this elector last saw the record change (never by the
 *   timestamps in it, so clock skew between nodes does not matter);
 * - renew every `retryPeriodMs`; a renewal keeps retrying until `renewDeadlineMs`; if it
 *   cannot renew in time, or sees another holder, leadership is lost: the leading signal
 *   aborts, `onStoppedLeading` fires at once and the elector stops for good (fail-stop);
 * - optimistic concurrency through `resourceVersion`: a 409 means someone else won;
 * - on graceful shutdown (the run signal aborts) the Lease is released (empty holder,
 *   1 s duration) so a successor takes over at once.
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import { systemClock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { silentLogger } from "../../core/log.ts";
import { isStatus, type KubeApi, type KubeObject } from "./kube.ts";

const API_VERSION = "coordination.k8s.io/v1";
const KIND = "Lease";
const JITTER = 1.2;

/** `spec` of a Lease. Time fields arrive as strings (or `Date`s from typed clients). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string | Date;
  renewTime?: string | Date;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  /** Namespace of the Lease (usually the pod's). */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This candidate's identity. @default `${hostname}_${uuid}` */
  identity?: string;
  /** How long a holder's claim lasts without renewal. @default 15000 */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renewal before giving up. @default 10000 */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts. @default 2000 */
  retryPeriodMs?: number;
  /** Release the Lease when the run signal aborts. @default true */
  releaseOnCancel?: boolean;
  /** Called on becoming leader; `signal` aborts when leadership ends. */
  onStartedLeading?: (signal: AbortSignal) => void | Promise<void>;
  /** Called once when leadership ends (lost or released). */
  onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to this elector). */
  onNewLeader?: (identity: string) => void;
  /** @default systemClock */
  clock?: Clock;
  /** @default silentLogger */
  logger?: Logger;
}

/** RFC 3339 with exactly 6 fractional digits, as `metav1.MicroTime` requires. */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Epoch milliseconds of a MicroTime given as a string or `Date`; `undefined` if absent or invalid. */
export function parseMicroTime(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value !== "string" || value === "") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function normalizeTime(value: string | Date | undefined): string | undefined {
  if (value instanceof Date) return formatMicroTime(value.getTime());
  return value;
}

/** `hostname_uuid`, unique per process. */
export function defaultIdentity(): string {
  let host = "vmcp";
  try {
    host = Deno.hostname();
  } catch {
    // no --allow-sys: the uuid alone keeps identities unique
  }
  return `${host}_${crypto.randomUUID()}`;
}

type Attempt = "ok" | "held" | "conflict";

/** One candidate in a Lease election; see the module documentation. `run` once per instance. */
export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  #kube: Pick<KubeApi, "get" | "create" | "replace">;
  #opts: LeaderElectorOptions;
  #clock: Clock;
  #logger: Logger;
  #callTimeoutMs: number;
  #leading = false;
  #ran = false;
  #lease: Lease | undefined;
  #observedRaw = "";
  #observedAt = 0;
  #reported = "";

  constructor(kube: Pick<KubeApi, "get" | "create" | "replace">, options: LeaderElectorOptions) {
    const lease = options.leaseDurationMs ?? 15_000;
    const renew = options.renewDeadlineMs ?? 10_000;
    const retry = options.retryPeriodMs ?? 2_000;
    if (!options.namespace || !options.name) {
      throw new TypeError(
        `Cannot create LeaderElector: namespace "${options.namespace}" and name "${options.name}" must be non-empty`,
      );
    }
    if (!(retry > 0)) {
      throw new RangeError(`Cannot create LeaderElector: retryPeriodMs "${retry}" must be > 0`);
    }
    if (!(lease > renew)) {
      throw new RangeError(
        `Cannot create LeaderElector: leaseDurationMs "${lease}" must be greater than renewDeadlineMs "${renew}"`,
      );
    }
    if (!(renew > JITTER * retry)) {
      throw new RangeError(
        `Cannot create LeaderElector: renewDeadlineMs "${renew}" must be greater than ${JITTER} × retryPeriodMs "${retry}"`,
      );
    }
    this.identity = options.identity || defaultIdentity();
    this.leaseDurationMs = lease;
    this.renewDeadlineMs = renew;
    this.retryPeriodMs = retry;
    this.#kube = kube;
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).with({
      lease: `${options.namespace}/${options.name}`,
      identity: this.identity,
    });
    // controller-runtime: client timeout max(renewDeadline/2, 1s) for lease calls.
    this.#callTimeoutMs = Math.max(renew / 2, 1000);
  }

  /** True while this elector holds the Lease. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder last observed (this elector's identity while leading); `undefined` if none. */
  leaderIdentity(): string | undefined {
    return this.#reported || undefined;
  }

  /**
   * Campaigns until leading, then renews until leadership is lost or `signal` aborts.
   * Resolves when this elector has stopped; it cannot be run again.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#ran) {
      throw new Error(
        `Cannot run LeaderElector "${this.identity}" twice: it is fail-stop, create a new one`,
      );
    }
    this.#ran = true;
    if (!(await this.#acquire(signal))) return;
    this.#leading = true;
    this.#logger.info("Became leader");
    const lead = new AbortController();
    let work: Promise<unknown> = Promise.resolve();
    try {
      work = Promise.resolve(this.#opts.onStartedLeading?.(lead.signal)).catch((err) => {
        this.#logger.error("onStartedLeading failed", { error: err });
      });
    } catch (err) {
      this.#logger.error("onStartedLeading failed", { error: err });
    }
    const end = await this.#renewLoop(signal);
    this.#leading = false;
    lead.abort(new Error(`Leadership of Lease "${this.#opts.name}" ended: ${end}`));
    if (end === "cancelled") {
      // Let the leader's work wind down (bounded) before a successor may start.
      const bound = new AbortController();
      await Promise.race([
        work,
        this.#clock.sleep(this.renewDeadlineMs, bound.signal).catch(() => {}),
      ]);
      bound.abort();
      if (this.#opts.releaseOnCancel ?? true) await this.#release();
      this.#logger.info("Stopped leading (shutdown)");
    } else {
      this.#logger.error("Leader election lost", { reason: end });
    }
    try {
      this.#opts.onStoppedLeading?.();
    } catch (err) {
      this.#logger.error("onStoppedLeading failed", { error: err });
    }
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      try {
        if ((await this.#tryAcquireOrRenew(signal, this.#callTimeoutMs)) === "ok") return true;
      } catch (err) {
        if (signal.aborted) return false;
        this.#logger.warn("Failed to acquire Lease", { error: err });
      }
      const wait = this.retryPeriodMs * (1 + Math.random() * (JITTER - 1));
      try {
        await this.#clock.sleep(wait, signal);
      } catch {
        return false;
      }
    }
    return false;
  }

  /** Resolves why leading ended: "cancelled", or a reason it was lost. */
  async #renewLoop(signal: AbortSignal): Promise<string> {
    for (;;) {
      try {
        await this.#clock.sleep(this.retryPeriodMs, signal);
      } catch {
        return "cancelled";
      }
      const deadline = this.#clock.now() + this.renewDeadlineMs;
      for (;;) {
        const remaining = deadline - this.#clock.now();
        if (remaining <= 0) return `could not renew within ${this.renewDeadlineMs}ms`;
        let result: Attempt | undefined;
        try {
          result = await this.#tryAcquireOrRenew(signal, Math.min(this.#callTimeoutMs, remaining));
        } catch (err) {
          if (signal.aborted) return "cancelled";
          this.#logger.warn("Failed to renew Lease", { error: err });
        }
        if (result === "ok") break;
        if (result === "held") return `Lease is held by "${this.#reported}"`;
        try {
          await this.#clock.sleep(Math.min(this.retryPeriodMs, remaining), signal);
        } catch {
          return "cancelled";
        }
      }
    }
  }

  #observe(lease: Lease, now: number): void {
    this.#lease = lease;
    const spec = lease.spec ?? {};
    const raw = JSON.stringify({
      h: spec.holderIdentity ?? "",
      d: spec.leaseDurationSeconds,
      a: normalizeTime(spec.acquireTime),
      r: normalizeTime(spec.renewTime),
      t: spec.leaseTransitions,
    });
    if (raw !== this.#observedRaw) {
      this.#observedRaw = raw;
      this.#observedAt = now;
    }
    const holder = spec.holderIdentity ?? "";
    if (holder && holder !== this.#reported) {
      this.#reported = holder;
      try {
        this.#opts.onNewLeader?.(holder);
      } catch (err) {
        this.#logger.error("onNewLeader failed", { error: err });
      }
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<Attempt> {
    const { namespace, name } = this.#opts;
    const now = this.#clock.now();
    const nowString = formatMicroTime(now);
    const durationS = Math.ceil(this.leaseDurationMs / 1000);
    const call = { signal, timeoutMs };
    const current = await this.#kube.get<Lease>(API_VERSION, KIND, namespace, name, call);
    if (!current) {
      try {
        const created = await this.#kube.create<Lease>({
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name, namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: durationS,
            acquireTime: nowString,
            renewTime: nowString,
            leaseTransitions: 0,
          },
        }, call);
        this.#observe(created, now);
        return "ok";
      } catch (err) {
        if (isStatus(err, 409)) return "conflict";
        throw err;
      }
    }
    this.#observe(current, now);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const heldMs = (spec.leaseDurationSeconds ?? durationS) * 1000;
    if (holder && holder !== this.identity && this.#observedAt + heldMs > now) return "held";
    const mine = holder === this.identity;
    const { managedFields: _managed, ...metadata } = current.metadata ?? {};
    try {
      const updated = await this.#kube.replace<Lease>({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata,
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: durationS,
          acquireTime: mine ? normalizeTime(spec.acquireTime) ?? nowString : nowString,
          renewTime: nowString,
          leaseTransitions: mine ? spec.leaseTransitions ?? 0 : (spec.leaseTransitions ?? 0) + 1,
        },
      }, call);
      this.#observe(updated, now);
      return "ok";
    } catch (err) {
      if (isStatus(err, 409)) return "conflict";
      throw err;
    }
  }

  async #release(): Promise<void> {
    const lease = this.#lease;
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const now = formatMicroTime(this.#clock.now());
    const { managedFields: _managed, ...metadata } = lease.metadata ?? {};
    try {
      const released = await this.#kube.replace<Lease>({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        },
      }, { timeoutMs: this.#callTimeoutMs });
      this.#lease = released;
      this.#reported = "";
      this.#logger.info("Released Lease");
    } catch (err) {
      this.#logger.warn("Failed to release Lease", { error: err });
    }
  }
}
