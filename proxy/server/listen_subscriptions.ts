/**
 * The backend side of `subscriptions/listen` resource subscriptions for MCP 2026-07-28 clients
 * (docs/adr/0010-mcp-2026-07-28-both-eras.md, section 5): the sink the listen hub calls once
 * per (identity, uri) (listen_resources.ts counts the streams).
 *
 * - `acquire(identityKey, uri, peer)`: `peer` is the listen request's `RequestPeer` (the front
 *   door hands it to `ListenHub.open`). The URI is routed and authorized as `resources/read`
 *   (`Router.resourceBackend`: a URI the identity may not read is unknown); on a legacy backend `resources/subscribe` is sent on the
 *   identity's pooled backend session (identity_pool.ts), which is held (never evicted or
 *   expired) until `release`. That session's `notifications/resources/updated` reach only this
 *   identity's streams (`ProxyRuntime` → `ListenHub.publish`). On a modern backend the URI
 *   joins the identity's backend listen stream instead (modern_subscriptions.ts, `listenOwner`).
 * - Refused (a rejection: the hub leaves the URI out of the acknowledgement): an unknown URI, a
 *   context that is not this identity's request peer, and a backend whose sessions share one connection
 *   (`shareHttp`, shared stdio): its updates could not be told apart per identity.
 * - `release(identityKey, uri)`: `resources/unsubscribe` on the same session, then the hold
 *   ends (the entry may expire again).
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { Backend } from "../backends/backend.ts";
import type { PooledPeer } from "../backends/identity_pool.ts";
import type { SessionPeer } from "../backends/connection.ts";
import type { ResourceSubscriptionSink } from "./listen_resources.ts";
import { listenOwner } from "../backends/modern_subscriptions.ts";

/** What the sink needs of a backend (`Backend`). */
export type SubscribableBackend = Pick<
  Backend,
  "name" | "sharesConnection" | "isModern" | "holdIdentitySession" | "subscribe" | "unsubscribe"
>;

export interface PooledResourceSubscriptionsOptions {
  /**
   * The backend serving `uri` to `peer`'s identity (`Router.resourceBackend`: routed and
   * authorized as `resources/read`); throws for an unknown or forbidden URI.
   */
  route(uri: string, peer: PooledPeer): SubscribableBackend;
  log: Logger;
}

interface Held {
  backend: SubscribableBackend;
  peer: SessionPeer;
  release: () => void;
}

function isPooledPeer(v: unknown): v is PooledPeer {
  const p = v as Partial<PooledPeer> | null;
  return typeof p?.connectionKey === "string" && typeof p.identityKey === "string" &&
    typeof p.request === "function";
}

export class PooledResourceSubscriptions implements ResourceSubscriptionSink {
  readonly #o: PooledResourceSubscriptionsOptions;
  readonly #held = new Map<string, Held>();

  constructor(opts: PooledResourceSubscriptionsOptions) {
    this.#o = opts;
  }

  /** (identity, uri) subscriptions held on backend sessions. */
  get size(): number {
    return this.#held.size;
  }

  async acquire(identityKey: string, uri: string, context: unknown): Promise<void> {
    if (!isPooledPeer(context) || context.identityKey !== identityKey) {
      throw new TypeError("resource subscription needs the listen request's peer of its identity");
    }
    const backend = this.#o.route(uri, context);
    if (await backend.isModern()) {
      // The identity's backend listen stream (modern_subscriptions.ts), no pooled session.
      const owner = listenOwner(context);
      await backend.subscribe(owner, uri);
      this.#held.set(`${identityKey}\u0000${uri}`, { backend, peer: owner, release: () => {} });
      return;
    }
    if (backend.sharesConnection) {
      throw new Error(
        `backend "${backend.name}" shares one connection among clients (shareHttp or shared ` +
          "stdio): per-identity resource subscriptions are not available on it",
      );
    }
    const release = backend.holdIdentitySession(context);
    try {
      await backend.subscribe(context, uri);
    } catch (err) {
      release();
      throw err;
    }
    this.#held.set(`${identityKey}\u0000${uri}`, { backend, peer: context, release });
  }

  release(identityKey: string, uri: string): void {
    const key = `${identityKey}\u0000${uri}`;
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    void held.backend.unsubscribe(held.peer, uri)
      .catch((err) =>
        this.#o.log.debug("resource unsubscribe failed", {
          backend: held.backend.name,
          error: err instanceof Error ? err.message : String(err),
        })
      )
      .finally(held.release);
  }
}
