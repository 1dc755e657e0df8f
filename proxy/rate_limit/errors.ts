/**
 * The answer to a refused call: JSON-RPC error -32029 (ToolHive's code for "Rate limit
 * exceeded", kept for wire compatibility) whose message names the limit and whose
 * `data.retryAfterSeconds` says when to try again.
 * @module
 */
import { RpcError } from "../backends/errors.ts";

/** ToolHive's JSON-RPC error code of a rate-limited request. */
export const RATE_LIMITED = -32029;

/** Which bucket refused: server-wide or per tool, shared or per identity. */
export type RateLimitScope = "global" | "perUser" | "tool" | "toolPerUser";

/** What names a limit in messages and metrics. */
export interface LimitInfo {
  scope: RateLimitScope;
  /** The tool of a per-tool limit. */
  tool?: string | undefined;
  maxTokens: number;
  /** As configured, e.g. `1h`. */
  refillPeriod: string;
}

function describe(limit: LimitInfo): string {
  const what = {
    global: "the server-wide limit",
    perUser: "your per-user limit",
    tool: `the limit of tool "${limit.tool}"`,
    toolPerUser: `your per-user limit of tool "${limit.tool}"`,
  }[limit.scope];
  return `${what} (${limit.maxTokens} per ${limit.refillPeriod})`;
}

/** A call refused by a rate limit. */
export class RateLimitedError extends RpcError {
  constructor(readonly limit: LimitInfo, readonly retryAfterSeconds: number) {
    super(
      RATE_LIMITED,
      `Rate limit exceeded: ${describe(limit)} is used up; retry after ${retryAfterSeconds} s`,
      {
        retryAfterSeconds,
        scope: limit.scope,
        ...(limit.tool !== undefined ? { tool: limit.tool } : {}),
        maxTokens: limit.maxTokens,
        refillPeriod: limit.refillPeriod,
      },
    );
    this.name = "RateLimitedError";
  }
}
