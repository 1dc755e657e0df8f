/**
 * Process isolation of stdio backends (ADR 0006). `stdio.mode: perSession` (the default) gives
 * every client session its own process through the same per-session connection machinery
 * Streamable HTTP backends use (`Backend.connectionFor`, `BackendConnection.owner`), bounded by
 * `stdio.maxProcesses`; `shared` runs one process for every session.
 * @module
 */
import {
  type BackendConfig,
  type StdioSettings,
  StdioSettingsSchema,
} from "../../crds/vmcp_config.ts";
import { RpcError } from "./errors.ts";

const cache = new WeakMap<BackendConfig, StdioSettings>();

/** The stdio settings of `cfg` with defaults applied; undefined for other transports. */
export function stdioSettings(cfg: BackendConfig): StdioSettings | undefined {
  if (cfg.transport !== "stdio") return undefined;
  let s = cache.get(cfg);
  if (!s) cache.set(cfg, s = StdioSettingsSchema.parse(cfg.stdio ?? {}));
  return s;
}

/** True when client sessions of this stdio backend each get their own process. */
export function stdioPerSession(cfg: BackendConfig): boolean {
  return stdioSettings(cfg)?.mode === "perSession";
}

/** JSON-RPC code of "every per-session process of this stdio backend is in use". */
export const STDIO_PROCESS_LIMIT = -32005;

/**
 * A client session needs a process of its own but `stdio.maxProcesses` sessions already have
 * one. It concerns this session only: the backend is not unhealthy (an `RpcError` that is not a
 * proxy error counts as an answer for health and the circuit breaker).
 */
export class StdioProcessLimitError extends RpcError {
  constructor(readonly backend: string, readonly maxProcesses: number) {
    super(
      STDIO_PROCESS_LIMIT,
      `Backend "${backend}": all ${maxProcesses} per-session stdio processes ` +
        `(stdio.maxProcesses) are in use by other sessions; try again after one ends`,
      { backend, maxProcesses },
    );
    this.name = "StdioProcessLimitError";
  }
}

/**
 * The error for a session that needs a new per-session process while `open` per-session
 * processes exist; undefined when one may be started (or `cfg` is not per-session stdio).
 */
export function processLimitError(
  cfg: BackendConfig,
  open: number,
): StdioProcessLimitError | undefined {
  const s = stdioSettings(cfg);
  if (s?.mode !== "perSession" || open < s.maxProcesses) return undefined;
  return new StdioProcessLimitError(cfg.name, s.maxProcesses);
}
