/**
 * The MRTR pieces of one proxy process from its config and environment: the `StateCodec`
 * (keys from VMCP_REQUEST_STATE_KEY[_PREVIOUS], or a random one) and the `ParkedCalls`.
 * @module
 */
import type { InputRequiredSettings } from "../../crds/aggregation.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/log.ts";
import { ParkedCalls } from "./parking.ts";
import { StateCodec, stateKeysFromEnv } from "./state.ts";

/**
 * How long a backend's first request to a 2026-07-28 client waits for the others the backend
 * sends with it (ParkedCalls `gatherMs`): a human answers the round, so this costs nothing noticeable.
 */
export const INPUT_GATHER_MS = 50;

export interface InputRequiredRuntime {
  codec: StateCodec;
  parked: ParkedCalls;
  /** How long a parked round waits (ms). */
  timeoutMs: number;
}

/**
 * Builds the codec and the parked calls. Throws (naming the variable) when a key in the
 * environment is shorter than 32 bytes; logs once when no key is configured.
 */
export function createInputRequired(
  settings: Partial<InputRequiredSettings> | undefined,
  log: Logger,
  opts: { env?: (name: string) => string | undefined; clock?: Clock } = {},
): InputRequiredRuntime {
  const clock = opts.clock ?? systemClock;
  const keys = stateKeysFromEnv(opts.env ?? ((n) => Deno.env.get(n)));
  const timeoutMs = parseDuration(settings?.timeout ?? "10m");
  const codec = new StateCodec({ ...keys, ttlMs: timeoutMs, clock });
  if (codec.randomKey) {
    log.info(
      "no requestState key configured (VMCP_REQUEST_STATE_KEY): this process signs with a random one, so a 2026-07-28 client's retry on another replica is refused",
    );
  }
  const parked = new ParkedCalls({
    codec,
    clock,
    log,
    timeoutMs,
    gatherMs: INPUT_GATHER_MS,
    ...(settings?.maxPending !== undefined ? { maxPending: settings.maxPending } : {}),
    ...(settings?.maxPendingPerIdentity !== undefined
      ? { maxPendingPerIdentity: settings.maxPendingPerIdentity }
      : {}),
  });
  return { codec, parked, timeoutMs };
}
