/**
 * Pass-through of a 2026-07-28 backend's `input_required` to a 2026-07-28 client (ADR 0010 §4):
 * the `inputRequests` go out unchanged; the backend's `requestState` is wrapped in a sealed
 * `pass` state bound to the caller, the method and name, and the backend. No state stays in
 * vmcp: any replica can verify the retry, resolve the backend by name again, and hand the
 * backend its own state back byte for byte.
 * @module
 */
import {
  type OpenedState,
  RequestStateError,
  type StateBinding,
  type StateCodec,
} from "./state.ts";

type AnyObject = Record<string, unknown>;

/**
 * The backend's `input_required` result as the client gets it: `requestState` replaced by a
 * sealed pass state for `backend` (round `previous.i + 1`, or 1 on the first call).
 */
export function sealPassThrough(
  result: AnyObject,
  backend: string,
  codec: StateCodec,
  binding: StateBinding,
  previous?: OpenedState,
): AnyObject {
  const inner = typeof result.requestState === "string" ? result.requestState : undefined;
  const requestState = codec.seal(
    { kind: "pass", be: backend, ...(inner === undefined ? {} : { s: inner }) },
    binding,
    (previous?.i ?? 0) + 1,
  );
  return { ...result, requestState };
}

/**
 * The backend's own state for a retry routed to `backend` (undefined: it sent none). A park
 * state, or a pass state of another backend (the name now routes elsewhere), is refused.
 */
export function innerStateFor(opened: OpenedState, backend: string): string | undefined {
  if (opened.kind !== "pass" || opened.be !== backend) {
    throw new RequestStateError("other_target");
  }
  return opened.s;
}

/**
 * A 2026-07-28 client's direct call to one backend, as its `RequestPeer` carries it (the
 * modern endpoint sets it, a 2026-07-28 backend's connection reads it): with it, that backend's
 * `input_required` is handed back as the call's result (`from` names the backend) instead of
 * being driven through the peer; `retry` is what a retry with a pass state sends the backend.
 */
export interface PassSlot {
  /** The client's answers and the backend's own state, for backend `backend` only. */
  retry?: { backend: string; inner?: string; inputResponses: unknown } | undefined;
  /** The backend whose `input_required` is the call's result. */
  from?: string | undefined;
}

/** The pass slot of a peer (a `RequestPeer` of a direct call), if it has one. */
export function passSlotOf(peer: unknown): PassSlot | undefined {
  const slot = (peer as { pass?: unknown } | undefined)?.pass;
  return slot && typeof slot === "object" ? slot as PassSlot : undefined;
}

/**
 * The params of a call sent to `backend` under `slot`: with the retry's answers and state when
 * the retry is for it (used once); a retry for another backend is refused.
 */
export function passParams(
  slot: PassSlot,
  backend: string,
  params: AnyObject | undefined,
): AnyObject | undefined {
  const retry = slot.retry;
  if (!retry) return params;
  if (retry.backend !== backend) throw new RequestStateError("other_target");
  slot.retry = undefined;
  return {
    ...params,
    ...(retry.inputResponses !== undefined ? { inputResponses: retry.inputResponses } : {}),
    ...(retry.inner !== undefined ? { requestState: retry.inner } : {}),
  };
}
