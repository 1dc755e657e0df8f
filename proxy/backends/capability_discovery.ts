/**
 * Discovery of what one backend offers a client declaring a given capability set
 * (docs/adr/0012-lists-per-client-capability-set.md):
 *
 * - a 2026-07-28 backend: the lists are requested on its stateless connection with the set in
 *   each request's envelope (no session);
 * - a 2025-11-25 backend: a backend session of its own is initialized declaring the set (a
 *   stdio backend: a process of its own), listed, and ended (DELETE; a process is stopped).
 *
 * vmcp's own credentials are used (as for its base discovery), and the backend's questions to the
 * client during it (roots, sampling, elicitation) are refused: no client is behind it.
 * @module
 */
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import type { Logger } from "../../core/log.ts";
import type { Identity } from "../../core/auth/identity.ts";
import type { ClientCapabilities, RequestId } from "../../core/sdk.ts";
import { type AnyObject, BackendConnection, type SessionPeer } from "./connection.ts";
import { type BackendCapabilities, type Discoverable, discoverCapabilities } from "./discovery.ts";
import { backendRequestRefused } from "./errors.ts";
import type { HeadersFor } from "./backend.ts";

/** Cap of the DELETE that ends a discovery's backend session. */
const END_MS = 5000;

/** The client side of a discovery: declares the set, answers nothing. */
class DiscoveryPeer implements SessionPeer {
  readonly id = "vmcp-capability-discovery";
  /** None: a stateless backend request then carries vmcp's own credentials. */
  readonly identity = undefined as unknown as Identity;

  constructor(readonly backend: string, readonly caps: ClientCapabilities) {}

  clientCapabilities(): ClientCapabilities {
    return this.caps;
  }

  request(
    req: { method: string; params?: AnyObject },
    _opts: { signal: AbortSignal; relatedRequestId?: RequestId },
  ): Promise<AnyObject> {
    return Promise.reject(backendRequestRefused(
      this.backend,
      req.method,
      "refused: it came on vmcp's own capability discovery, which no client is behind",
    ));
  }

  notify(): Promise<void> {
    return Promise.resolve();
  }
}

export interface CapabilityDiscoveryOptions {
  config: BackendConfig;
  capabilities: ClientCapabilities;
  timeoutMs: number;
  log: Logger;
  headersFor?: HeadersFor | undefined;
  /** The backend's stateless connection when it speaks MCP 2026-07-28. */
  modern?: Discoverable | undefined;
  signal?: AbortSignal | undefined;
}

/** Lists what the backend offers a client declaring `opts.capabilities`. */
export async function discoverForCapabilities(
  opts: CapabilityDiscoveryOptions,
): Promise<BackendCapabilities> {
  const { config, timeoutMs, signal } = opts;
  const peer = new DiscoveryPeer(config.name, opts.capabilities);
  const modern = opts.modern;
  if (modern) {
    // The envelope carries the peer's capabilities; no identity: vmcp's own credentials.
    const asPeer: Discoverable = {
      name: modern.name,
      client: modern.client,
      request: (method, params, o) =>
        modern.request(method, params, { ...o, ctx: { session: peer } }),
    };
    return await discoverCapabilities(asPeer, timeoutMs, signal);
  }
  const headersFor = opts.headersFor;
  const headers = headersFor && config.transport !== "stdio"
    ? (s?: AbortSignal) => headersFor(undefined, s)
    : undefined;
  const conn = new BackendConnection(
    config,
    peer,
    { onListChanged: () => {}, onResourceUpdated: () => {}, onClosed: () => {} },
    opts.log.with({ backend: config.name, discovery: "capability set" }),
    headers,
  );
  try {
    await conn.connect(timeoutMs, signal);
    return await discoverCapabilities(conn, timeoutMs, signal);
  } finally {
    await conn.terminate(Math.min(timeoutMs, END_MS));
  }
}
