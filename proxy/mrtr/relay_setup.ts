/**
 * The `ParkRelay` of one proxy process from its config: the session store's Redis
 * (`sessionStorage.provider: redis`: address, db, password from `passwordEnv`, `keyPrefix`),
 * and the longest backend timeout as the bound of a relayed wait (the receiver cannot know which
 * backend the parked call waits on). With the memory store there is no relay: a retry that
 * reaches a replica not holding its call gets -32602 "no longer pending".
 *
 * Wiring: `const relay = createParkRelay(config, mrtr, log); await relay.start();` next to
 * `createInputRequired`; `relay.resume(...)` for every retry with a park state; `relay.stop()`
 * on shutdown.
 * @module
 */
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import type { Clock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/log.ts";
import { ParkRelay, type RelayRedisOptions } from "./relay.ts";
import type { InputRequiredRuntime } from "./setup.ts";

/** The relay's Redis for `sessionStorage`, or `undefined` without a Redis store. */
export function relayRedisOptions(
  storage: VmcpConfig["sessionStorage"],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): RelayRedisOptions | undefined {
  if (storage?.provider !== "redis" || !storage.address) return undefined;
  const password = storage.passwordEnv ? env(storage.passwordEnv) : undefined;
  return {
    address: storage.address,
    db: storage.db ?? 0,
    keyPrefix: storage.keyPrefix ?? "vmcp:session:",
    ...(password !== undefined ? { password } : {}),
  };
}

/** The longest backend timeout in the config (`operational.timeouts`, default 30 s). */
export function relayWaitMs(config: Pick<VmcpConfig, "operational">): number {
  const t = config.operational?.timeouts;
  const all = [t?.default ?? "30s", ...Object.values(t?.perWorkload ?? {})];
  return Math.max(...all.map((d) => parseDuration(d)));
}

/** The relay for `mrtr`'s parked calls (call `start()` before serving, `stop()` at the end). */
export function createParkRelay(
  config: Pick<VmcpConfig, "operational" | "sessionStorage">,
  mrtr: Pick<InputRequiredRuntime, "codec" | "parked">,
  log: Logger,
  opts: { env?: (name: string) => string | undefined; clock?: Clock } = {},
): ParkRelay {
  return new ParkRelay({
    parked: mrtr.parked,
    codec: mrtr.codec,
    log: log.with({ component: "park-relay" }),
    redis: relayRedisOptions(config.sessionStorage, opts.env),
    waitMs: relayWaitMs(config),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
}
