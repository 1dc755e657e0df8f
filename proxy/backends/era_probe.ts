/**
 * Which protocol era a Streamable HTTP backend speaks (ADR 0010, section 3): one
 * `server/discover` with the full envelope.
 *
 * - A result whose `supportedVersions` lists 2026-07-28: modern (the result is kept: the
 *   stateless connection adopts it without a second round trip).
 * - A JSON-RPC error (including -32022, unsupported version), an HTTP 4xx (400 without a
 *   session, 404, 405, ...), or a result without 2026-07-28: legacy (the Python SDK's rule).
 * - A timeout, a refused or broken connection, or an HTTP 5xx: an outage, thrown, never a
 *   verdict.
 * @module
 */
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import { type BackendFetch, createBackendFetch } from "../../core/http_client.ts";
import { BackendUnavailableError, describeError } from "./errors.ts";
import { MODERN_VERSION, modernHeaders, readAnswer, withEnvelope } from "./modern_wire.ts";

type AnyObject = Record<string, unknown>;

export type EraVerdict =
  | { era: "modern"; discover: AnyObject }
  | { era: "legacy"; reason: string };

/** Capabilities vmcp declares for its own requests (as at a legacy `initialize`). */
export const VMCP_CAPABILITIES: AnyObject = { sampling: {}, elicitation: {}, roots: {} };

const defaultFetch = createBackendFetch();

/**
 * Probes `config`'s era. `headers` are vmcp's own outgoing-auth headers; `signal` carries the
 * caller's deadline (its reason is thrown when it fires).
 */
export async function probeEra(
  config: BackendConfig,
  headers: Record<string, string>,
  signal: AbortSignal,
  fetchFn: BackendFetch = defaultFetch,
): Promise<EraVerdict> {
  const params = withEnvelope(undefined, { capabilities: VMCP_CAPABILITIES });
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "server/discover", params });
  let res: Response;
  try {
    res = await fetchFn(config.url!, {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...modernHeaders("server/discover", undefined),
      },
      body,
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw new BackendUnavailableError(config.name, `server/discover: ${describeError(err)}`);
  }
  if (res.status >= 500) {
    await res.body?.cancel().catch(() => {});
    throw new BackendUnavailableError(
      config.name,
      `server/discover answered HTTP ${res.status}`,
      res.status,
    );
  }
  if (res.status >= 400) {
    const rpc = await errorOf(res);
    return { era: "legacy", reason: `server/discover answered HTTP ${res.status}${rpc}` };
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    return { era: "legacy", reason: `server/discover answered HTTP ${res.status}` };
  }
  let answer;
  try {
    answer = await readAnswer(res, 1);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    return { era: "legacy", reason: `server/discover: ${describeError(err)}` };
  }
  if ("error" in answer) {
    return {
      era: "legacy",
      reason: `server/discover answered error ${answer.error.code}: ${answer.error.message}`,
    };
  }
  const versions = answer.result.supportedVersions;
  if (Array.isArray(versions) && versions.includes(MODERN_VERSION)) {
    return { era: "modern", discover: answer.result };
  }
  return {
    era: "legacy",
    reason: `server/discover lists no ${MODERN_VERSION} (${JSON.stringify(versions ?? null)})`,
  };
}

/** ` (error <code>: <message>)` from a JSON-RPC error body, or "". */
async function errorOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const e = JSON.parse(text)?.error;
    if (typeof e?.code === "number") return ` (error ${e.code}: ${String(e.message)})`;
  } catch { /* not JSON */ }
  return "";
}
