/**
 * Resource subscriptions on one MCP 2026-07-28 backend (ADR 0010, section 5, last bullet): the
 * backend has no `resources/subscribe`, so vmcp keeps one backend `subscriptions/listen` stream
 * per identity with the union of the URIs that identity's owners subscribed to.
 *
 * - Counted per (identity, uri, owner): an owner is a legacy client session or an identity's
 *   listen streams (`listenOwner`). The stream is replaced (the new one opened before the old
 *   one closes) when the identity's URI set changes, and closed when it becomes empty.
 * - Each identity's stream has its own v2 SDK client whose requests carry that identity's
 *   outgoing-auth headers (`headersFor(identity)`), so the backend sees who listens.
 * - A `notifications/resources/updated` on an identity's stream goes to the owners of that
 *   identity subscribed to its URI (`onUpdated`), never to another identity.
 * - A stream the backend ends is reopened on the next change of the set; a failed open fails
 *   the subscribe that caused it (the subscription is not counted).
 * @module
 */
import { type Identity, identityKey } from "../../core/auth/identity.ts";
import type { BackendFetch } from "../../core/http_client.ts";
import type { Logger } from "../../core/log.ts";
import {
  ClientV2,
  type McpSubscriptionV2,
  StreamableHTTPClientTransportV2,
} from "../../core/sdk.ts";
import type { AnyObject, SessionPeer } from "./connection.ts";
import { VMCP_CAPABILITIES } from "./era_probe.ts";
import { describeError } from "./errors.ts";
import type { IdentityHeaders } from "./stateless_connection.ts";
import { VMCP_CLIENT_INFO } from "./modern_wire.ts";

export interface ModernSubscriptionsOptions {
  backend: string;
  url: string;
  /** The backend's latest discover result (the stream's client connects without probing). */
  discover(): Promise<AnyObject>;
  headersFor?: IdentityHeaders;
  log: Logger;
  /** An update for `owner` (the subscribing session or listen owner). */
  onUpdated(owner: SessionPeer, params: AnyObject): void;
}

/** The owner standing for an identity's listen streams (the runtime publishes by its key). */
export type ListenSubscriptionOwner = SessionPeer & { readonly listenIdentityKey: string };

/** An owner for the listen streams of `peer`'s identity: updates go to that identity only. */
export function listenOwner(
  peer: { identity: Identity; identityKey: string },
): ListenSubscriptionOwner {
  return {
    id: `listen\u0000${peer.identityKey}`,
    identity: { ...peer.identity },
    listenIdentityKey: peer.identityKey,
    request: () => Promise.reject(new Error("a listen owner takes no requests")),
    notify: () => Promise.resolve(),
    clientCapabilities: () => undefined,
  };
}

interface IdentityStream {
  identity: Identity;
  /** uri → owner id → owner and count. */
  uris: Map<string, Map<string, { owner: SessionPeer; count: number }>>;
  client: ClientV2 | undefined;
  sub: McpSubscriptionV2 | undefined;
  /** The URI set the open stream listens to (sorted, joined). */
  listening: string;
  /** Changes run one at a time. */
  chain: Promise<void>;
}

function keyOf(owner: SessionPeer): string {
  const own = owner as { listenIdentityKey?: unknown; identityKey?: unknown };
  if (typeof own.listenIdentityKey === "string") return own.listenIdentityKey;
  if (typeof own.identityKey === "string") return own.identityKey;
  return identityKey(owner.identity);
}

export class ModernSubscriptions {
  readonly #o: ModernSubscriptionsOptions;
  readonly #streams = new Map<string, IdentityStream>();
  #closed = false;

  constructor(opts: ModernSubscriptionsOptions) {
    this.#o = opts;
  }

  /** Identities with an open or pending stream (for tests). */
  get size(): number {
    return this.#streams.size;
  }

  /** Counts `owner`'s subscription to `uri`; the identity's stream listens to it on return. */
  async subscribe(owner: SessionPeer, uri: string): Promise<void> {
    if (this.#closed) throw new Error(`backend "${this.#o.backend}" is closed`);
    const key = keyOf(owner);
    let s = this.#streams.get(key);
    if (!s) {
      s = {
        identity: owner.identity,
        uris: new Map(),
        client: undefined,
        sub: undefined,
        listening: "",
        chain: Promise.resolve(),
      };
      this.#streams.set(key, s);
    }
    let owners = s.uris.get(uri);
    if (!owners) s.uris.set(uri, owners = new Map());
    const held = owners.get(owner.id);
    if (held) held.count++;
    else owners.set(owner.id, { owner, count: 1 });
    try {
      await this.#sync(key, s);
    } catch (err) {
      this.#drop(s, uri, owner.id, false);
      void this.#sync(key, s).catch(() => {});
      throw err;
    }
  }

  /** Uncounts one subscription of `owner` to `uri` (`all`: every one of `owner`'s). */
  async unsubscribe(owner: SessionPeer, uri: string, all = false): Promise<void> {
    const key = keyOf(owner);
    const s = this.#streams.get(key);
    if (!s || !this.#drop(s, uri, owner.id, all)) return;
    await this.#sync(key, s).catch((err) =>
      this.#o.log.debug("modern backend: listen stream update failed", {
        backend: this.#o.backend,
        error: describeError(err),
      })
    );
  }

  /** Drops every subscription of the owner with this id (its client session ended). */
  async dropOwner(ownerId: string): Promise<void> {
    for (const [key, s] of this.#streams) {
      let changed = false;
      for (const uri of [...s.uris.keys()]) changed = this.#drop(s, uri, ownerId, true) || changed;
      if (changed) await this.#sync(key, s).catch(() => {});
    }
  }

  #drop(s: IdentityStream, uri: string, ownerId: string, all: boolean): boolean {
    const owners = s.uris.get(uri);
    const held = owners?.get(ownerId);
    if (!owners || !held) return false;
    if (!all && held.count > 1) {
      held.count--;
      return false;
    }
    owners.delete(ownerId);
    if (owners.size === 0) s.uris.delete(uri);
    return true;
  }

  /** Brings the identity's stream in line with its URI set (serialized per identity). */
  #sync(key: string, s: IdentityStream): Promise<void> {
    const run = s.chain.then(() => this.#apply(key, s));
    s.chain = run.catch(() => {});
    return run;
  }

  async #apply(key: string, s: IdentityStream): Promise<void> {
    const uris = [...s.uris.keys()].sort();
    const want = uris.join("\n");
    if (want === s.listening && (s.sub || !uris.length)) return;
    const old = { sub: s.sub, client: s.client };
    const closeOld = async () => {
      await old.sub?.close().catch(() => {});
      await old.client?.close().catch(() => {});
    };
    if (!uris.length || this.#closed) {
      s.sub = undefined;
      s.client = undefined;
      s.listening = "";
      await closeOld();
      if (this.#streams.get(key) === s && !s.uris.size) this.#streams.delete(key);
      return;
    }
    // A client per stream: only the current one's notifications are delivered.
    const client = await this.#client(s);
    let sub: McpSubscriptionV2;
    try {
      sub = await client.listen({ resourceSubscriptions: uris } as never);
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
    const honored = (sub.honoredFilter as { resourceSubscriptions?: string[] })
      .resourceSubscriptions ?? [];
    const refused = uris.filter((u) => !honored.includes(u));
    s.client = client;
    s.sub = sub;
    s.listening = want;
    void sub.closed.then((how) => {
      if (s.sub !== sub) return;
      s.sub = undefined;
      s.listening = "";
      if (how !== "local") {
        this.#o.log.debug("modern backend: resource listen stream ended", {
          backend: this.#o.backend,
          how,
        });
      }
    });
    await closeOld();
    if (refused.length) {
      throw new Error(
        `backend "${this.#o.backend}" did not accept a subscription to ${refused.join(", ")}`,
      );
    }
  }

  async #client(s: IdentityStream): Promise<ClientV2> {
    const headersFor = this.#o.headersFor;
    const fetchWith: BackendFetch = async (url, init) => {
      const headers = new Headers(init?.headers);
      if (headersFor) {
        for (
          const [k, v] of Object.entries(await headersFor(s.identity, init?.signal ?? undefined))
        ) {
          headers.set(k, v);
        }
      }
      return await fetch(url, { ...init, headers });
    };
    const client = new ClientV2(VMCP_CLIENT_INFO, { capabilities: VMCP_CAPABILITIES });
    client.onerror = (err) =>
      this.#o.log.debug("modern backend subscription client error", { error: describeError(err) });
    client.setNotificationHandler("notifications/resources/updated", (n) => {
      if (s.client !== client) return; // a replaced stream
      const params = (n as { params?: AnyObject }).params ?? {};
      const uri = params.uri;
      if (typeof uri !== "string") return;
      const owners = s.uris.get(uri);
      if (!owners) return;
      const { _meta: _, ...clean } = params;
      for (const { owner } of owners.values()) this.#o.onUpdated(owner, clean);
    });
    const transport = new StreamableHTTPClientTransportV2(new URL(this.#o.url), {
      fetch: fetchWith,
    });
    await client.connect(transport, {
      prior: { kind: "modern", discover: (await this.#o.discover()) as never },
    });
    return client;
  }

  /** Closes every stream. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#streams.values()];
    this.#streams.clear();
    await Promise.all(all.map(async (s) => {
      await s.sub?.close().catch(() => {});
      await s.client?.close().catch(() => {});
    }));
  }
}
