/**
 * Server-to-client input for MCP 2026-07-28 clients at the front door (ADR 0010 §4, the MRTR
 * bridge): what `ModernEndpoint` runs for `tools/call`, `prompts/get` and `resources/read`.
 *
 * - **First request** (no `requestState`): the call runs under `ParkedCalls.race`. When a
 *   legacy backend asks the client something (`elicitation/create`, `sampling/createMessage`,
 *   `roots/list` on the caller's pooled backend session), `RequestPeer.request` goes to
 *   `bridge` and the client gets an `input_required` result with a sealed `park` state while the
 *   backend call stays in flight.
 * - **Retry** (`requestState` + `inputResponses`): the state is verified for the request's
 *   binding (method, tool/prompt name or resource uri, the caller's identity key) before
 *   anything else (and the name must still route to a backend); a park state goes to
 *   `resumePark` (`ParkedCalls.resume` by default, the
 *   cross-replica relay when one is plugged in), which answers the pending requests and waits
 *   for the call again: its result or the next round.
 * - **Refusals**: every bad state is a `RequestStateError` (-32602 "Invalid or expired
 *   requestState", HTTP 200), logged at warn at most once a minute with hashed keys (a client
 *   can repeat it at will).
 * - **Pass-through** (a direct call, not a composite tool, to a 2026-07-28 backend): the
 *   backend's `input_required` reaches the client unchanged except for its `requestState`, which
 *   is wrapped in a sealed `pass` state naming the backend (proxy/mrtr/pass.ts). The retry is
 *   verified, its backend resolved by name again (it must be the one in the state), and the
 *   backend gets the client's answers and its own state back. Nothing stays in vmcp.
 * - A retry whose original call is parked here and asks for an SSE answer (progress token or
 *   log level) gets the resumed call's progress and log notifications on that answer.
 * @module
 */
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import type { AnyObject } from "../backends/connection.ts";
import type { ParkedCalls } from "../mrtr/parking.ts";
import { innerStateFor, type PassSlot, sealPassThrough } from "../mrtr/pass.ts";
import {
  type OpenedState,
  refusalLogFields,
  RequestStateError,
  type StateBinding,
  type StateCodec,
} from "../mrtr/state.ts";
import type { InputBridge, RequestPeer } from "./request_peer.ts";

/** A retry with a park state, as `ParkRelay.resume` takes it. */
export interface ParkRetry {
  /** `codec.open(requestState, binding)`. */
  state: OpenedState;
  /** The sealed text itself (a relay's owner verifies it again). */
  requestState: string;
  binding: StateBinding;
  inputResponses: unknown;
}

/** Resumes a park-state retry (the one place a cross-replica relay plugs in). */
export type ResumePark = (
  retry: ParkRetry,
  opts: { signal?: AbortSignal },
) => Promise<AnyObject>;

/** The MRTR pieces of one proxy process (proxy/mrtr/setup.ts `createInputRequired`). */
export interface ModernInputOptions {
  codec: StateCodec;
  parked: ParkedCalls;
  /** @default `(r, o) => parked.resume(r.state, r.inputResponses, o)` */
  resumePark?: ResumePark | undefined;
}

/** The methods a client may retry with `inputResponses` + `requestState`. */
export const INPUT_METHODS: ReadonlySet<string> = new Set([
  "tools/call",
  "prompts/get",
  "resources/read",
]);

/** What a state of `method` with `params` is bound to; undefined for other methods. */
export function bindingOf(
  method: string,
  params: AnyObject,
  identityKey: string,
): StateBinding | undefined {
  if (!INPUT_METHODS.has(method)) return undefined;
  const target = method === "resources/read" ? params.uri : params.name;
  return { method, name: typeof target === "string" ? target : "", identityKey };
}

/** One call of a modern request: how to start it on the backend, and how to cancel it. */
export interface InputCall {
  peer: RequestPeer;
  binding: StateBinding;
  params: AnyObject;
  /** Runs the call (the router, with the call's own signal, not the HTTP request's). */
  start(): Promise<AnyObject>;
  /** Aborts the backend call (the client left while it was running for it). */
  cancel(reason: unknown): void;
  /** The client's HTTP request (or SSE answer) went away. */
  gone: AbortSignal;
  /** A direct call (not a composite tool): a 2026-07-28 backend's input_required passes. */
  direct?: boolean;
  /** The backend the call's name routes to now (a pass state must name it). */
  backendOf?: () => string | undefined;
}

export class ModernInput {
  readonly #codec: StateCodec;
  readonly #parked: ParkedCalls;
  readonly #resume: ResumePark;
  readonly #warn: (msg: string, fields?: Record<string, unknown>) => void;
  /** The peer each local park's call runs for (a retry's SSE answer takes its notifications). */
  readonly #peers = new Map<string, RequestPeer>();

  constructor(opts: ModernInputOptions, log: Logger) {
    const parked = opts.parked;
    this.#codec = opts.codec;
    this.#parked = parked;
    this.#resume = opts.resumePark ?? ((r, o) => parked.resume(r.state, r.inputResponses, o));
    this.#warn = warnAtMostEvery(log, 60_000);
  }

  /** `RequestPeer.inputBridge`: a backend's request to the client parks the call. */
  readonly bridge: InputBridge = (peer, req, opts) => this.#parked.bridge(peer, req, opts);

  /** Original calls whose peer is remembered for a retry (bounded by the parked calls). */
  get remembered(): number {
    return this.#peers.size;
  }

  /**
   * The call's result, or an `input_required` result to send as is. Throws the call's error or
   * a `RequestStateError`.
   */
  async run(call: InputCall): Promise<AnyObject> {
    const text = call.params.requestState;
    if (text === undefined) return await this.#first(call, call.direct ? {} : undefined);
    let state: OpenedState;
    try {
      state = this.#codec.open(text, call.binding);
      if (state.kind === "pass") {
        if (!call.direct) throw new RequestStateError("other_target");
        innerStateFor(state, call.backendOf?.() ?? "");
      } else if (call.direct && call.backendOf && call.backendOf() === undefined) {
        // Routing is checked again before the park is touched: the name routes nowhere now.
        throw new RequestStateError("other_target");
      }
    } catch (err) {
      if (err instanceof RequestStateError) {
        this.#warn("requestState refused", refusalLogFields(err, call.binding));
      }
      throw err;
    }
    if (state.kind === "pass") {
      const retry = {
        backend: state.be,
        ...(state.s !== undefined ? { inner: state.s } : {}),
        inputResponses: call.params.inputResponses,
      };
      return await this.#first(call, { retry }, state);
    }
    const original = state.r === this.#parked.replicaId ? this.#peers.get(state.p) : undefined;
    if (original && call.peer.writer) original.attach(call.peer.writer);
    try {
      return await this.#resume(
        {
          state,
          requestState: text as string,
          binding: call.binding,
          inputResponses: call.params.inputResponses,
        },
        { signal: call.gone },
      );
    } finally {
      if (original && original.writer === call.peer.writer) original.attach(undefined);
    }
  }

  /** A call run anew: the first request, or a pass-through retry (`slot.retry`). */
  async #first(call: InputCall, slot?: PassSlot, previous?: OpenedState): Promise<AnyObject> {
    call.peer.pass = slot;
    // The backend call: a parked one's peer is forgotten once it settles (watched only then).
    let running: Promise<AnyObject> | undefined;
    const result = await this.#parked.race(call.peer, call.binding, () => running = call.start(), {
      signal: call.gone,
      cancel: (reason) => call.cancel(reason),
    });
    if (slot?.from !== undefined && result.resultType === "input_required") {
      return sealPassThrough(result, slot.from, this.#codec, call.binding, previous);
    }
    if (result.resultType === "input_required" && running) {
      // The park id, from the state just sealed (a retry finds the peer by it).
      const opened = this.#codec.open(result.requestState, call.binding);
      if (opened.kind === "park") {
        const parkId = opened.p;
        this.#peers.set(parkId, call.peer);
        const forget = () => this.#peers.delete(parkId);
        running.then(forget, forget);
      }
    }
    return result;
  }
}
