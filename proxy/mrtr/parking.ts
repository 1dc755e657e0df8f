/**
 * Parked calls (ADR 0010 §4): a 2026-07-28 client's call to a legacy backend that stops to ask
 * the client something (`elicitation/create`, `sampling/createMessage`, `roots/list` on the
 * backend session). The backend call stays in flight on this replica; the client gets an
 * `input_required` result listing every pending request under keys `v1`, `v2`, … (those the
 * backend sends within `gatherMs` of its first; its own progress token left out) and a sealed
 * `park` state; its retry (same method and name, `inputResponses` + `requestState`) answers
 * the pending requests and waits for the call again: the result, or the next round.
 *
 * Wiring (the modern endpoint and `RequestPeer`):
 * - `RequestPeer.inputBridge = (peer, req, opts) => parked.bridge(peer, req, opts)`;
 * - a first request: `await parked.race(peer, binding, () => router.callTool(..., peer))`;
 * - a retry: `await parked.resume(codec.open(requestState, binding), inputResponses)`.
 * Both answer the call's result, or an `input_required` result to send as is; they throw the
 * call's error, or a `RequestStateError` (answer its `toJsonRpc()` with HTTP 200).
 *
 * Bounds: calls waiting for client input (from their first request to the client until the
 * call is answered, expires or is abandoned) per replica (`maxPending`) and per identity
 * (`maxPendingPerIdentity`, also the most requests one call may have pending); past them the
 * backend's request gets `-32603` naming the bound. A
 * parked round not retried within `timeoutMs` ends: an elicitation is answered
 * `{action: "cancel"}`, sampling and roots get an error, and the call's result is logged and
 * dropped. Each round is one-shot: of concurrent or repeated retries the first wins.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import { RpcError } from "../backends/errors.ts";
import {
  type OpenedState,
  RequestStateError,
  type StateBinding,
  type StateCodec,
} from "./state.ts";

type AnyObject = Record<string, unknown>;

/** The client-facing request a backend sent (method and params, as for `SessionPeer.request`). */
export interface InputRequest {
  method: string;
  params?: AnyObject;
}

/** `input_required` as sent to a 2026-07-28 client. */
export interface InputRequiredResult extends AnyObject {
  resultType: "input_required";
  inputRequests: Record<string, InputRequest>;
  requestState: string;
}

export interface ParkedCallsOptions {
  codec: StateCodec;
  clock: Clock;
  log: Logger;
  /** How long a parked round waits for the client's retry (also the state's TTL). */
  timeoutMs: number;
  /** Calls waiting for client input on this replica at most. @default 1000 */
  maxPending?: number;
  /** Calls of one identity waiting for client input at most (and requests per call). @default 16 */
  maxPendingPerIdentity?: number;
  /** This replica's id in park states. @default random */
  replicaId?: string;
  /**
   * After a backend's first request to the client, wait this long for the others it sends at
   * the same time (a 2025 server asking several things with `Promise.all`) so that they reach the
   * client in one round. 0: park at once. @default 0
   */
  gatherMs?: number;
}

export interface RaceOptions {
  /** The client's request went away: stop waiting (and `cancel` the call). */
  signal?: AbortSignal;
  /** Cancels the backend call (called when `signal` aborts while waiting). */
  cancel?: (reason: unknown) => void;
}

interface Pending {
  key: string;
  req: InputRequest;
  resolve(result: AnyObject): void;
  reject(err: unknown): void;
}

type Phase = "running" | "parked" | "done";

interface Call {
  binding: StateBinding;
  parkId: string;
  /** Round of the last state handed out (0: none yet). */
  round: number;
  phase: Phase;
  pending: Map<string, Pending>;
  nextKey: number;
  /** Settled outcome of the backend call, once known. */
  outcome?: { ok: true; value: AnyObject } | { ok: false; error: unknown };
  /** Wakes the one waiter (a race or resume in progress). */
  wake?: () => void;
  /** Ends the parked round's timeout. */
  timer?: AbortController;
  listening: boolean;
  /** Counted against the bounds (from its first request to the client until forgotten). */
  slot: boolean;
  cancel?: (reason: unknown) => void;
}

/**
 * A call racing for a waiting client (`race`). Most calls never ask the client anything: they
 * cost this and one abort listener, nothing more. The first `bridge` for the call makes its
 * `Call` (requests map, waits, park), which from then on answers the race.
 */
class Racing {
  /** Made by the first request to the client. */
  call: Call | undefined = undefined;
  /** The client left before the backend asked it anything: the call was cancelled. */
  abandoned = false;
  /** `signal` has this as its abort listener (until the call settles or is promoted). */
  listening = false;
  constructor(
    readonly peer: object,
    readonly binding: StateBinding,
    readonly opts: RaceOptions,
    readonly resolve: (value: AnyObject) => void,
    readonly reject: (err: unknown) => void,
  ) {}

  /** The client's request went away (the abort listener on `opts.signal`). */
  handleEvent(): void {
    this.unlisten();
    if (this.call || this.abandoned) return;
    const reason = this.opts.signal?.reason;
    this.abandoned = true;
    this.opts.cancel?.(reason);
    this.reject(reason);
  }

  listen(): void {
    this.listening = true;
    this.opts.signal?.addEventListener("abort", this);
  }

  unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    this.opts.signal?.removeEventListener("abort", this);
  }
}

/** The parked calls of one replica. */
export class ParkedCalls {
  readonly replicaId: string;
  readonly #opts: Required<Omit<ParkedCallsOptions, "replicaId">>;
  /** Calls by the peer they run for (the bridge finds them by it). */
  readonly #byPeer = new Map<object, Racing>();
  /** Parked (or resumable) calls by park id. */
  readonly #byPark = new Map<string, Call>();
  /** Calls holding a slot (they asked the client something and are not finished with). */
  readonly #perIdentity = new Map<string, number>();
  #slots = 0;
  #pending = 0;
  /** Refusals a client can repeat at will: one warn line a minute each, the rest at debug. */
  readonly #warnRefused: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #warnBound: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(opts: ParkedCallsOptions) {
    this.replicaId = opts.replicaId ?? crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    this.#opts = {
      codec: opts.codec,
      clock: opts.clock,
      log: opts.log,
      timeoutMs: opts.timeoutMs,
      maxPending: opts.maxPending ?? 1000,
      maxPendingPerIdentity: opts.maxPendingPerIdentity ?? 16,
      gatherMs: opts.gatherMs ?? 0,
    };
    const now = () => opts.clock.now();
    this.#warnRefused = warnAtMostEvery(opts.log, 60_000, now);
    this.#warnBound = warnAtMostEvery(opts.log, 60_000, now);
  }

  /** Client requests waiting for an answer on this replica. */
  get pending(): number {
    return this.#pending;
  }

  /** Calls tracked (running for a waiting client, or parked). */
  get calls(): number {
    return this.#byPeer.size;
  }

  /** Calls that wait for client input or hold an outcome for a retry (what the bounds count). */
  get waiting(): number {
    return this.#slots;
  }

  /**
   * Runs `start()` for `peer` (the call's `RequestPeer`) and answers its result, or an
   * `input_required` result once the backend asks the client something (and `gatherMs` passed).
   */
  race(
    peer: object,
    binding: StateBinding,
    start: () => Promise<AnyObject>,
    opts: RaceOptions = {},
  ): Promise<AnyObject> {
    if (this.#byPeer.has(peer)) throw new Error("ParkedCalls.race: this peer already has a call");
    let resolve!: (value: AnyObject) => void;
    let reject!: (err: unknown) => void;
    const answer = new Promise<AnyObject>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const racing = new Racing(peer, binding, opts, resolve, reject);
    this.#byPeer.set(peer, racing);
    let promise: Promise<AnyObject>;
    try {
      promise = start();
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (value) => this.#ended(racing, true, value),
      (error) => this.#ended(racing, false, error),
    );
    if (!racing.call) {
      // One check when the client is gone already, one listener while it waits.
      if (opts.signal?.aborted) racing.handleEvent();
      else if (opts.signal) racing.listen();
    }
    return answer;
  }

  /** The backend call of `racing` settled. */
  #ended(racing: Racing, ok: boolean, valueOrError: unknown): void {
    const call = racing.call;
    if (call) {
      const outcome = ok
        ? { ok: true as const, value: valueOrError as AnyObject }
        : { ok: false as const, error: valueOrError };
      return this.#settled(racing.peer, call, outcome);
    }
    this.#byPeer.delete(racing.peer);
    racing.unlisten();
    if (racing.abandoned) {
      // The client left and the call was cancelled: nobody reads this.
      this.#opts.log.info("a parked call finished with no client waiting; its result is dropped", {
        method: racing.binding.method,
        ok,
      });
      return;
    }
    if (ok) racing.resolve(valueOrError as AnyObject);
    else racing.reject(valueOrError);
  }

  /**
   * The backend asks the client of `racing` something for the first time: a `Call` takes over
   * (`bridge` starts its wait once the request is pending).
   */
  #promote(racing: Racing): Call {
    racing.unlisten();
    const call: Call = {
      binding: racing.binding,
      parkId: "", // made when it first parks
      round: 0,
      phase: "running",
      pending: new Map(),
      nextKey: 0,
      listening: true,
      slot: false,
      ...(racing.opts.cancel ? { cancel: racing.opts.cancel } : {}),
    };
    racing.call = call;
    return call;
  }

  /**
   * A retry: answers the pending requests from `inputResponses` (bare results by key; unknown
   * keys ignored, unanswered keys asked again) and waits for the call again.
   */
  resume(
    state: OpenedState,
    inputResponses: unknown,
    opts: { signal?: AbortSignal } = {},
  ): Promise<AnyObject> {
    if (state.kind !== "park") return Promise.reject(this.#refuse("malformed"));
    if (state.r !== this.replicaId) return Promise.reject(this.#refuse("not_pending"));
    const call = this.#byPark.get(state.p);
    if (!call) return Promise.reject(this.#refuse("not_pending"));
    if (state.i !== call.round || call.phase !== "parked") {
      return Promise.reject(this.#refuse("replayed_round"));
    }
    call.phase = "running";
    call.listening = true;
    call.timer?.abort();
    call.timer = undefined;
    if (inputResponses && typeof inputResponses === "object" && !Array.isArray(inputResponses)) {
      for (const [key, value] of Object.entries(inputResponses as AnyObject)) {
        const p = call.pending.get(key);
        if (!p || !value || typeof value !== "object" || Array.isArray(value)) continue;
        this.#drop(call, p);
        p.resolve(value as AnyObject);
      }
    }
    return this.#wait(call, opts.signal);
  }

  /**
   * The `RequestPeer.inputBridge`: a backend asks the client of `peer`'s call something. It is
   * handed to the waiting race (or the next retry) and answered when the client retries.
   */
  bridge(
    peer: object,
    req: InputRequest,
    opts: { signal?: AbortSignal } = {},
  ): Promise<AnyObject> {
    const racing = this.#byPeer.get(peer);
    const known = racing?.call;
    if (
      !racing || racing.abandoned || (known && (known.phase === "done" || known.outcome))
    ) {
      return Promise.reject(
        new RpcError(
          -32603,
          `vmcp: ${req.method} arrived for a call that no client is waiting on`,
        ),
      );
    }
    const { maxPending, maxPendingPerIdentity } = this.#opts;
    const id = racing.binding.identityKey;
    if (!known?.slot) {
      if (this.#slots >= maxPending) {
        return Promise.reject(
          this.#bound("maxPending", maxPending, "calls wait for client input on this replica", req),
        );
      }
      if ((this.#perIdentity.get(id) ?? 0) >= maxPendingPerIdentity) {
        return Promise.reject(
          this.#bound(
            "maxPendingPerIdentity",
            maxPendingPerIdentity,
            "calls of this caller wait for client input",
            req,
          ),
        );
      }
      const call = known ?? this.#promote(racing);
      call.slot = true;
      this.#slots++;
      this.#perIdentity.set(id, (this.#perIdentity.get(id) ?? 0) + 1);
    } else if (known.pending.size >= maxPendingPerIdentity) {
      // One call asking many things at once: bounded like a caller's calls.
      return Promise.reject(
        this.#bound(
          "maxPendingPerIdentity",
          maxPendingPerIdentity,
          "requests of this call wait for client input",
          req,
        ),
      );
    }
    const call = racing.call!;
    const asked = new Promise<AnyObject>((resolve, reject) => {
      const p: Pending = { key: `v${++call.nextKey}`, req, resolve, reject };
      call.pending.set(p.key, p);
      this.#pending++;
      const signal = opts.signal;
      if (signal) {
        const onAbort = () => {
          if (call.pending.get(p.key) !== p) return;
          this.#drop(call, p);
          reject(signal.reason);
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
      }
      call.wake?.();
    });
    if (!known) {
      // A microtask later, as a waiting race wakes: requests sent together share a round.
      Promise.resolve().then(() => this.#wait(call, racing.opts.signal)).then(
        racing.resolve,
        racing.reject,
      );
    }
    return asked;
  }

  /** Waits for the call's outcome or a pending request, whichever comes first. */
  async #wait(call: Call, signal?: AbortSignal): Promise<AnyObject> {
    let gathered = this.#opts.gatherMs <= 0;
    for (;;) {
      if (call.outcome) {
        this.#forget(call);
        if (call.outcome.ok) return call.outcome.value;
        throw call.outcome.error;
      }
      if (call.pending.size > 0 && !gathered && !signal?.aborted) {
        gathered = true;
        await this.#gather(call, signal);
        continue;
      }
      if (call.pending.size > 0) return this.#park(call);
      if (signal?.aborted) return this.#abandon(call, signal.reason);
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        call.wake = () => {
          signal?.removeEventListener("abort", onAbort);
          call.wake = undefined;
          resolve();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      call.wake = undefined;
    }
  }

  /** Waits `gatherMs` for more requests sent together; ends early on the outcome or `signal`. */
  async #gather(call: Call, signal?: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const end = () => stop.abort();
    signal?.addEventListener("abort", end, { once: true });
    call.wake = () => {
      if (call.outcome) end();
    };
    try {
      await this.#opts.clock.sleep(this.#opts.gatherMs, stop.signal);
    } catch {
      // ended early
    } finally {
      call.wake = undefined;
      signal?.removeEventListener("abort", end);
    }
  }

  /** The client left while waiting: the call is cancelled and forgotten. */
  #abandon(call: Call, reason: unknown): never {
    call.listening = false;
    this.#forget(call);
    call.cancel?.(reason);
    throw reason;
  }

  #park(call: Call): InputRequiredResult {
    call.round++;
    call.phase = "parked";
    if (!call.parkId) call.parkId = crypto.randomUUID();
    call.listening = false;
    this.#byPark.set(call.parkId, call);
    const inputRequests: Record<string, InputRequest> = {};
    for (const p of call.pending.values()) {
      const params = withoutProgressToken(p.req.params);
      inputRequests[p.key] = params === undefined
        ? { method: p.req.method }
        : { method: p.req.method, params };
    }
    const requestState = this.#opts.codec.seal(
      { kind: "park", r: this.replicaId, p: call.parkId },
      call.binding,
      call.round,
    );
    const timer = new AbortController();
    call.timer = timer;
    this.#opts.clock.sleep(this.#opts.timeoutMs, timer.signal).then(
      () => this.#expire(call, timer),
      () => {}, // a retry came in time
    );
    return { resultType: "input_required", inputRequests, requestState };
  }

  /** The client did not retry in time: the pending requests get their "no answer". */
  #expire(call: Call, timer: AbortController): void {
    if (call.timer !== timer || call.phase !== "parked") return;
    call.timer = undefined;
    this.#forget(call);
    this.#opts.log.info("parked call expired: the client did not retry in time", {
      method: call.binding.method,
      pending: call.pending.size,
      timeoutMs: this.#opts.timeoutMs,
    });
    if (call.outcome) return this.#dropped(call);
    for (const p of [...call.pending.values()]) {
      this.#drop(call, p);
      if (p.req.method === "elicitation/create") p.resolve({ action: "cancel" });
      else {
        p.reject(
          new RpcError(
            -32603,
            `vmcp: the client did not answer ${p.req.method} within ${this.#opts.timeoutMs} ms`,
          ),
        );
      }
    }
  }

  #settled(peer: object, call: Call, outcome: NonNullable<Call["outcome"]>): void {
    call.outcome = outcome;
    this.#byPeer.delete(peer);
    // Requests the backend no longer waits for (it answered the call without them).
    for (const p of [...call.pending.values()]) {
      this.#drop(call, p);
      p.reject(new RpcError(-32603, "vmcp: the call ended before the client answered"));
    }
    if (call.wake) return call.wake();
    // Parked: the round's retry gets this outcome (or it is dropped when the round expires).
    if (call.phase === "parked") return;
    // Expired or abandoned: nobody will read it.
    if (!call.listening) this.#dropped(call);
  }

  #dropped(call: Call): void {
    this.#forget(call);
    this.#opts.log.info("a parked call finished with no client waiting; its result is dropped", {
      method: call.binding.method,
      ok: call.outcome?.ok,
    });
  }

  #drop(call: Call, p: Pending): void {
    if (call.pending.delete(p.key)) this.#pending--;
  }

  /** The call needs nothing more from a client: no park, and its slot is free. */
  #forget(call: Call): void {
    call.phase = "done";
    this.#byPark.delete(call.parkId);
    if (!call.slot) return;
    call.slot = false;
    this.#slots--;
    const id = call.binding.identityKey;
    const n = (this.#perIdentity.get(id) ?? 1) - 1;
    if (n <= 0) this.#perIdentity.delete(id);
    else this.#perIdentity.set(id, n);
  }

  #bound(name: string, value: number, what: string, req: InputRequest): RpcError {
    this.#warnBound("backend request to a client refused: too many calls wait for input", {
      method: req.method,
      bound: name,
      value,
    });
    return new RpcError(
      -32603,
      `vmcp: ${req.method} refused: ${value} ${what} already (operational.inputRequired.${name})`,
    );
  }

  #refuse(reason: ConstructorParameters<typeof RequestStateError>[0]): RequestStateError {
    this.#warnRefused("requestState refused", { reason });
    return new RequestStateError(reason);
  }
}

/**
 * The backend's progress token for its own request means nothing to a 2026-07-28 client (an
 * embedded request gets no progress): it is left out of the relayed params.
 */
function withoutProgressToken(params: AnyObject | undefined): AnyObject | undefined {
  const meta = params?._meta as AnyObject | undefined;
  if (!params || !meta || !("progressToken" in meta)) return params;
  const { progressToken: _, ...rest } = meta;
  const { _meta: __, ...others } = params;
  return Object.keys(rest).length ? { ...others, _meta: rest } : others;
}
