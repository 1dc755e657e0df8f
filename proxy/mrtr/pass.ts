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
