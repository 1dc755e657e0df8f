/**
 * Shared pieces of the MRTR integration tests (2026-07-28 clients answering a backend's
 * elicitation/sampling through vmcp): server-everything behind a proxy, and one raw modern
 * request with the standard headers and envelope.
 * @module
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import type { RunningProxy, StartOptions } from "../../proxy/serve.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { config, post, proxy } from "./helpers.ts";

type AnyObject = Record<string, unknown>;

export const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

/** server-everything's elicitation tool behind the `every` backend. */
export const ELICIT = "every_trigger-elicitation-request";

/** The answer to a refused `requestState` (as the v2 SDK answers it). */
export const INVALID_STATE = {
  code: -32602,
  message: "Invalid or expired requestState",
  data: { reason: "invalid_request_state" },
};

/** The `every` backend: server-everything over stdio (one process per backend session). */
export function everythingBackend(): NonNullable<VmcpConfigInput["backends"]>[number] {
  const e = everythingServerCommand();
  return {
    name: "every",
    transport: "stdio",
    command: e.command,
    args: e.args,
    env: e.env,
    cwd: e.cwd,
  };
}

/** A proxy in front of server-everything (`operational` merged over a 60 s timeout). */
export function everythingBehindVmcp(
  operational: AnyObject = {},
  opts: Partial<StartOptions> = {},
): Promise<RunningProxy> {
  return proxy(
    config({
      operational: { timeouts: { default: "60s" }, ...operational },
      backends: [everythingBackend()],
    }),
    opts,
  );
}

let nextId = 1;

/** One raw 2026-07-28 request; answers the HTTP status and the JSON-RPC body. */
export async function modernCall(
  url: string,
  method: string,
  params: AnyObject,
  opts: { caps?: AnyObject; token?: string } = {},
): Promise<{ status: number; result?: AnyObject; error?: AnyObject }> {
  const name = (params.name ?? params.uri) as string;
  const body = {
    jsonrpc: "2.0",
    id: nextId++,
    method,
    params: { ...params, _meta: { [PV]: V, [CAPS]: opts.caps ?? { elicitation: {} } } },
  };
  const r = await post(url, JSON.stringify(body), {
    "mcp-protocol-version": V,
    "mcp-method": method,
    "mcp-name": name,
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  });
  const json = r.json as { result?: AnyObject; error?: AnyObject } | undefined;
  assert.ok(json, `not JSON (HTTP ${r.status}): ${r.text}`);
  return { status: r.status, ...json };
}

/** The `input_required` result of `r`, or an assertion error showing what came instead. */
export function inputRequired(
  r: { result?: AnyObject },
): { inputRequests: Record<string, { method: string; params: AnyObject }>; requestState: string } {
  assert.equal(r.result?.resultType, "input_required", JSON.stringify(r));
  return r.result as never;
}
