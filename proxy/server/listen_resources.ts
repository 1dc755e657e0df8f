/**
 * Reference counts of resource subscriptions per (identity, uri) for the listen hub
 * (docs/adr/0010-mcp-2026-07-28-both-eras.md, section 5). The backend side (the sink) is asked
 * once per (identity, uri): `acquire` when the first stream names the URI, `release` after the
 * last one ended. Calls for one (identity, uri) are serialized: a `release` never overtakes the
 * `acquire` it undoes, and a stream that joins while the `acquire` is in flight shares it.
 * @module
 */
import { type Logger, warnAtMostEvery } from "../../core/log.ts";

/** The backend side of resource subscriptions, per identity (the identity pool). */
export interface ResourceSubscriptionSink {
  /**
   * The first open stream of `identityKey` names `uri`; `context` is what the front door passed
   * to `ListenHub.open` for that stream (e.g. its request peer). A rejection leaves the URI out
   * of the stream's acknowledgement.
   */
  acquire(identityKey: string, uri: string, context: unknown): Promise<void> | void;
  /** The last stream of `identityKey` that named `uri` (after a successful `acquire`) ended. */
  release(identityKey: string, uri: string): void;
}

/** One stream's share of an (identity, uri) subscription. */
export interface ResourceShare {
  /** True once the backend subscription is up; false when `acquire` failed. */
  readonly ready: Promise<boolean>;
  /** The stream no longer needs it (idempotent). */
  leave(): void;
}

interface Entry {
  count: number;
  settled: boolean;
  ok: boolean;
  readonly ready: Promise<boolean>;
}

export class ResourceRefs {
  readonly #entries = new Map<string, Entry>();
  /** A client names URIs at will (up to 256 per listen): one warn line a minute, then debug. */
  readonly #warnRefused: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(
    readonly sink: ResourceSubscriptionSink,
    readonly log: Logger,
    readonly hash: (identityKey: string) => string,
  ) {
    this.#warnRefused = warnAtMostEvery(log, 60_000);
  }

  /** (identity, uri) pairs subscribed or being subscribed. */
  get size(): number {
    return this.#entries.size;
  }

  /** Joins the subscription of (identityKey, uri), asking the sink when it is the first. */
  join(identityKey: string, uri: string, context: unknown): ResourceShare {
    const key = `${identityKey}\u0000${uri}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      const created: Entry = {
        count: 0,
        settled: false,
        ok: false,
        ready: (async () => {
          try {
            await this.sink.acquire(identityKey, uri, context);
            return true;
          } catch (err) {
            this.#warnRefused("resource subscription refused by the backend side", {
              identity: this.hash(identityKey),
              uri: uri.slice(0, 200),
              error: err instanceof Error ? err.message : String(err),
            });
            return false;
          }
        })().then((ok) => {
          created.settled = true;
          created.ok = ok;
          if (!ok) this.#drop(key, created);
          else if (created.count === 0) this.#finish(key, created, identityKey, uri);
          return ok;
        }),
      };
      this.#entries.set(key, entry = created);
    }
    const mine = entry;
    mine.count++;
    let left = false;
    return {
      ready: mine.ready,
      leave: () => {
        if (left) return;
        left = true;
        mine.count--;
        if (mine.count === 0 && mine.settled && mine.ok) {
          this.#finish(key, mine, identityKey, uri);
        }
      },
    };
  }

  #drop(key: string, entry: Entry): void {
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
  }

  #finish(key: string, entry: Entry, identityKey: string, uri: string): void {
    this.#drop(key, entry);
    try {
      this.sink.release(identityKey, uri);
    } catch (err) {
      this.log.warn("resource subscription release failed", {
        identity: this.hash(identityKey),
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
