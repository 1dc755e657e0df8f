/**
 * A 2026-07-28 backend's `input_required` answered through a peer that takes server-to-client
 * requests (ADR 0010 §4): a legacy client's session, or a composite tool's step. Each embedded
 * request goes to `peer.request` (`elicitation/create`, `sampling/createMessage`, `roots/list`),
 * and the call is sent again with `inputResponses` and the backend's `requestState`, byte for
 * byte, until the backend answers a complete result. At most `maxRounds` (10) rounds, then
 * `-32603`.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import { systemClock } from "../../core/clock.ts";
import { RpcError } from "../backends/errors.ts";

type AnyObject = Record<string, unknown>;

/** The retry fields of one round (none on the first call). */
export interface RoundParams {
  inputResponses?: Record<string, AnyObject>;
  requestState?: string;
}

/** Where the embedded requests go: `SessionPeer.request` fits. */
export interface InputPeer {
  request(
    req: { method: string; params?: AnyObject },
    opts: { signal: AbortSignal; relatedRequestId?: string | number },
  ): Promise<AnyObject>;
  /** The client's declared capabilities (a `roots/list` without `roots` gets no roots). */
  clientCapabilities?(): { roots?: unknown } | undefined;
}

export interface DriveOptions {
  signal: AbortSignal;
  relatedRequestId?: string | number;
  /** @default 10 */
  maxRounds?: number;
  /** Paces rounds that carry only a `requestState` (nothing else slows them). */
  clock?: Clock;
  /** @default 250, as the v2 SDK's driver */
  stateOnlyPacingMs?: number;
}

/** The embedded request methods of 2026-07-28. */
export const INPUT_REQUEST_METHODS: ReadonlySet<string> = new Set([
  "elicitation/create",
  "sampling/createMessage",
  "roots/list",
]);

/** True for a `resultType: "input_required"` result. */
export function isInputRequired(result: AnyObject): boolean {
  return result.resultType === "input_required";
}

/**
 * Calls `callOnce` and drives `input_required` rounds through `peer`; answers the final
 * result. Errors of `callOnce` and of the peer (the client refused, went away) are thrown.
 */
export async function driveInputRequired(
  callOnce: (round: RoundParams) => Promise<AnyObject>,
  peer: InputPeer,
  opts: DriveOptions,
): Promise<AnyObject> {
  const maxRounds = opts.maxRounds ?? 10;
  const clock = opts.clock ?? systemClock;
  let result = await callOnce({});
  for (let round = 1; isInputRequired(result); round++) {
    if (round > maxRounds) {
      throw new RpcError(
        -32603,
        `vmcp: the backend still required input after ${maxRounds} rounds`,
      );
    }
    const requests = result.inputRequests;
    const state = result.requestState;
    if (state !== undefined && typeof state !== "string") {
      throw new RpcError(
        -32603,
        "vmcp: the backend's input_required has a non-string requestState",
      );
    }
    const hasRequests = isObject(requests) && Object.keys(requests).length > 0;
    if (!hasRequests && state === undefined) {
      throw new RpcError(
        -32603,
        "vmcp: the backend's input_required has neither inputRequests nor requestState",
      );
    }
    const inputResponses: Record<string, AnyObject> = {};
    if (hasRequests) {
      for (const [key, entry] of Object.entries(requests as AnyObject)) {
        opts.signal.throwIfAborted();
        inputResponses[key] = await ask(peer, key, entry, opts);
      }
    } else {
      await clock.sleep(opts.stateOnlyPacingMs ?? 250, opts.signal);
    }
    result = await callOnce({
      ...(hasRequests ? { inputResponses } : {}),
      ...(state !== undefined ? { requestState: state } : {}),
    });
  }
  return result;
}

async function ask(
  peer: InputPeer,
  key: string,
  entry: unknown,
  opts: DriveOptions,
): Promise<AnyObject> {
  if (!isObject(entry) || typeof entry.method !== "string") {
    throw new RpcError(-32603, `vmcp: the backend's input request "${key}" has no method`);
  }
  const method = entry.method;
  if (!INPUT_REQUEST_METHODS.has(method)) {
    throw new RpcError(
      -32603,
      `vmcp: the backend's input request "${key}" asks for ${method}; allowed: ` +
        [...INPUT_REQUEST_METHODS].join(", "),
    );
  }
  if (method === "roots/list" && peer.clientCapabilities && !peer.clientCapabilities()?.roots) {
    return { roots: [] };
  }
  const params = isObject(entry.params) ? entry.params : undefined;
  return await peer.request(
    params ? { method, params } : { method },
    {
      signal: opts.signal,
      ...(opts.relatedRequestId !== undefined ? { relatedRequestId: opts.relatedRequestId } : {}),
    },
  );
}

function isObject(v: unknown): v is AnyObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
