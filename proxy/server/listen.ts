/**
 * `subscriptions/listen` (MCP 2026-07-28): the SSE streams modern clients open to hear about
 * list changes and resource updates (docs/adr/0010-mcp-2026-07-28-both-eras.md, section 5).
 *
 * API (`ProxyRuntime.listenHub`; the front door routes `subscriptions/listen` to `open`):
 *
 * - `new ListenHub({log, capabilities, maxStreams?, maxPerIdentity?, heartbeatMs?, clock?,
 *   serverInfo?})`
 *   - `capabilities()`: what vmcp advertises, read at each `open`. A filter kind is honoured only
 *     when its bit is set: `tools|prompts|resources.listChanged`; `resourceSubscriptions` needs
 *     `resources.subscribe` **and** a sink (`setResourceSubscriptions`).
 *   - `maxStreams` (1024 per replica), `maxPerIdentity` (16).
 *   - `heartbeatMs`: a number or a function read before each beat (live config); 0 = off.
 * - `open(req, identityKey, signal, context?): Response`
 *   - accepted: 200 `text/event-stream`. The first event is
 *     `notifications/subscriptions/acknowledged` with `params.notifications` = the honoured
 *     filter. The subscription id is `req.id`, stamped on every notification (the ack too) in
 *     `_meta["io.modelcontextprotocol/subscriptionId"]`. `: ping` comments keep it open. An
 *     empty honoured filter is acknowledged and then ended at once (as the v2 SDK does). With
 *     resource URIs, the ack waits for the sink and lists only the URIs it subscribed to;
 *     changes published meanwhile follow the ack.
 *   - refused: a JSON-RPC error as plain JSON, HTTP 200 (as the SDK): `-32603` "Subscription
 *     limit reached" (`data: {limit: "maxStreams"|"maxPerIdentity", max}`), `-32602` for a bad
 *     filter (naming field, value and what is allowed), `-32603` after `close()`.
 *   - the stream ends when `signal` aborts, the client cancels the body, the client stops
 *     reading (more than 1 MiB queued), or on `close()` (which first sends the listen request's
 *     empty result, the spec's graceful end).
 * - `publish(n, target?)`: `notifications/{tools,prompts,resources}/list_changed` go to every
 *   stream that asked for the kind (or only those of `target.identityKey`).
 *   `notifications/resources/updated` goes only to streams of `target.identityKey` whose
 *   acknowledged URIs include `params.uri`; without a target it is dropped (it belongs to one
 *   identity). Other methods are ignored.
 * - `setResourceSubscriptions(sink)`: the backend side of resource subscriptions
 *   (listen_resources.ts): `sink.acquire(identityKey, uri, context)` for the first stream of an
 *   identity naming a URI, `sink.release(identityKey, uri)` after the last.
 * - `size` (open streams), `resourceSubscriptions` ((identity, uri) pairs held), `close()`.
 *
 * `ProxyRuntime` fans its list changes out here, and sends a backend's `resources/updated` on a
 * session owned by a `ListenOwner` (the identity pool's owner) to that owner's identity only.
 * @module
 */
import { createHash } from "node:crypto";
import { type Clock, systemClock } from "../../core/clock.ts";
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import {
  ResourceRefs,
  type ResourceShare,
  type ResourceSubscriptionSink,
} from "./listen_resources.ts";
import {
  honoredFilter,
  KIND_OF,
  type ListenCapabilities,
  parseFilter,
  show,
  type SubscriptionFilter,
} from "./listen_filter.ts";

export type { ResourceSubscriptionSink } from "./listen_resources.ts";
export type { ListenCapabilities, SubscriptionFilter } from "./listen_filter.ts";
export { MAX_URI_CHARS, MAX_URIS_PER_STREAM } from "./listen_filter.ts";

/** The `_meta` key that carries the listen request's id on every notification of its stream. */
export const SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId";
const SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo";

/**
 * Marks a backend-session owner that is not a client session (the identity pool's peer): a
 * `notifications/resources/updated` on its backend session goes to the listen streams of
 * `listenIdentityKey` (the key the front door passes to `open`), and to nobody else.
 */
export interface ListenOwner {
  readonly listenIdentityKey: string;
}

export interface ListenHubOptions {
  log: Logger;
  /** What vmcp advertises (read at each `open`). */
  capabilities: () => ListenCapabilities;
  /** Open streams per replica. @default 1024 */
  maxStreams?: number;
  /** Open streams per identity. @default 16 */
  maxPerIdentity?: number;
  /** Milliseconds between `: ping` comments, or a function read before each; 0 = off. @default 30000 */
  heartbeatMs?: number | (() => number);
  /** @default systemClock */
  clock?: Clock;
  /** Stamped on the graceful-close result's `_meta` (`…/serverInfo`). */
  serverInfo?: { name: string; version: string };
}

/** Bytes queued for a client that does not read before its stream is ended. */
const MAX_QUEUED_BYTES = 1024 * 1024;
const DEFAULT_HEARTBEAT_MS = 30_000;
const PING = new TextEncoder().encode(": ping\n\n");
const encoder = new TextEncoder();

type RequestId = string | number;
const rpcError = (id: RequestId, code: number, message: string, data?: unknown) =>
  Response.json({
    jsonrpc: "2.0",
    id,
    error: { code, message, ...(data === undefined ? {} : { data }) },
  });

const event = (message: unknown) =>
  encoder.encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`);

/** `params` with the subscription id stamped into `_meta` (not mutated). */
function stamp(params: Record<string, unknown> | undefined, id: RequestId) {
  const meta = params?._meta;
  return {
    ...params,
    _meta: {
      ...(meta && typeof meta === "object" ? meta : {}),
      [SUBSCRIPTION_ID_META_KEY]: id,
    },
  };
}

const hashKey = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 16);

/** One open listen stream. */
class ListenStream {
  /** URIs whose backend subscription is up (resource updates for them are delivered). */
  uris = new Set<string>();
  acked = false;
  /** Notifications published before the acknowledgement, one per kind/uri, sent after it. */
  readonly early = new Map<string, { method: string; params?: Record<string, unknown> }>();
  readonly shares: ResourceShare[] = [];
  readonly stop = new AbortController();
  #open = true;

  constructor(
    readonly id: RequestId,
    readonly identityKey: string,
    readonly filter: SubscriptionFilter,
    readonly controller: ReadableStreamDefaultController<Uint8Array>,
    readonly onEnd: (s: ListenStream, reason: "client" | "slow" | "graceful") => void,
    readonly closeResult: () => unknown,
  ) {}

  /** Whether the stream asked for `n` (resource updates: a URI it named). */
  wants(method: string, uri: unknown): boolean {
    const kind = KIND_OF[method];
    if (kind) return this.filter[kind] === true;
    if (typeof uri !== "string") return false;
    return this.acked ? this.uris.has(uri) : !!this.filter.resourceSubscriptions?.includes(uri);
  }

  send(n: { method: string; params?: Record<string, unknown> }): void {
    if (!this.acked) {
      this.early.set(`${n.method}\u0000${n.params?.uri ?? ""}`, n);
      return;
    }
    this.write(event({ jsonrpc: "2.0", method: n.method, params: stamp(n.params, this.id) }));
  }

  write(frame: Uint8Array): void {
    if (!this.#open) return;
    try {
      this.controller.enqueue(frame);
    } catch {
      return this.end("client"); // the body was cancelled under us
    }
    if ((this.controller.desiredSize ?? 0) < 0) this.end("slow");
  }

  /** Writes the acknowledgement of `filter`, then what was published meanwhile. */
  acknowledge(filter: SubscriptionFilter): void {
    if (!this.#open) return;
    this.write(event({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: stamp({ notifications: filter }, this.id),
    }));
    this.acked = true;
    for (const n of this.early.values()) {
      if (this.wants(n.method, n.params?.uri)) this.send(n);
    }
    this.early.clear();
  }

  end(reason: "client" | "slow" | "graceful"): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      if (reason === "graceful") {
        this.controller.enqueue(event({ jsonrpc: "2.0", id: this.id, result: this.closeResult() }));
      }
      this.controller.close();
    } catch { /* already cancelled */ }
    this.stop.abort();
    for (const share of this.shares) share.leave();
    this.onEnd(this, reason);
  }
}

export class ListenHub {
  readonly #o: ListenHubOptions;
  readonly #clock: Clock;
  readonly #maxStreams: number;
  readonly #maxPerIdentity: number;
  readonly #streams = new Set<ListenStream>();
  readonly #byIdentity = new Map<string, Set<ListenStream>>();
  #refs: ResourceRefs | undefined;
  #closed = false;
  /** Refused and slow-reader streams: a client repeats them at will (one warn a minute each). */
  readonly #warnRefused: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #warnSlow: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(opts: ListenHubOptions) {
    const maxStreams = opts.maxStreams ?? 1024;
    const maxPerIdentity = opts.maxPerIdentity ?? 16;
    for (const [name, v] of [["maxStreams", maxStreams], ["maxPerIdentity", maxPerIdentity]]) {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new RangeError(`ListenHub option ${name} must be an integer >= 1; got ${show(v)}`);
      }
    }
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#maxStreams = maxStreams;
    this.#maxPerIdentity = maxPerIdentity;
    const now = () => this.#clock.now();
    this.#warnRefused = warnAtMostEvery(opts.log, 60_000, now);
    this.#warnSlow = warnAtMostEvery(opts.log, 60_000, now);
  }

  /** Open listen streams. */
  get size(): number {
    return this.#streams.size;
  }

  /** (identity, uri) resource subscriptions held for open streams. */
  get resourceSubscriptions(): number {
    return this.#refs?.size ?? 0;
  }

  /**
   * Sets the backend side of resource subscriptions; until then `resourceSubscriptions` are
   * not acknowledged. Streams already open keep the sink they started with.
   */
  setResourceSubscriptions(sink: ResourceSubscriptionSink | undefined): void {
    this.#refs = sink ? new ResourceRefs(sink, this.#o.log, hashKey) : undefined;
  }

  /**
   * Serves one `subscriptions/listen` request (see the module doc). `context` is handed to the
   * resource-subscription sink's `acquire` (e.g. the caller's request peer).
   */
  open(
    req: { id: RequestId; params: Record<string, unknown> },
    identityKey: string,
    signal: AbortSignal,
    context?: unknown,
  ): Response {
    const { id } = req;
    if (this.#closed) return rpcError(id, -32603, "Server is shutting down: listen refused");
    if (this.#streams.size >= this.#maxStreams) {
      return this.#refuse(id, identityKey, "maxStreams", this.#maxStreams);
    }
    if ((this.#byIdentity.get(identityKey)?.size ?? 0) >= this.#maxPerIdentity) {
      return this.#refuse(id, identityKey, "maxPerIdentity", this.#maxPerIdentity);
    }
    const parsed = parseFilter(req.params ?? {});
    if (typeof parsed === "string") return rpcError(id, -32602, `Invalid params: ${parsed}`);
    const refs = this.#refs;
    const filter = honoredFilter(parsed, this.#o.capabilities(), refs !== undefined);
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      cancel: () => stream.end("client"),
    }, new ByteLengthQueuingStrategy({ highWaterMark: MAX_QUEUED_BYTES }));
    const onAbort = () => stream.end("client");
    const stream = new ListenStream(id, identityKey, filter, controller, (s, reason) => {
      signal.removeEventListener("abort", onAbort);
      this.#forget(s);
      if (reason === "slow") {
        this.#warnSlow("ended a listen stream whose client does not read", {
          identity: hashKey(identityKey),
        });
      }
    }, () => this.#closeResult(id));
    this.#add(stream);
    if (signal.aborted) stream.end("client");
    else signal.addEventListener("abort", onAbort, { once: true });
    const uris = filter.resourceSubscriptions;
    if (!uris || !refs) this.#start(stream, filter);
    else {
      // Acknowledge once the backend side answered: only the URIs it subscribed to.
      const shares = uris.map((uri) => refs.join(identityKey, uri, context));
      stream.shares.push(...shares);
      void Promise.all(shares.map((s) => s.ready)).then((oks) => {
        const accepted = uris.filter((_, i) => oks[i]);
        stream.uris = new Set(accepted);
        const { resourceSubscriptions: _, ...rest } = filter;
        this.#start(stream, accepted.length ? { ...rest, resourceSubscriptions: accepted } : rest);
      });
    }
    return sse(body);
  }

  #start(stream: ListenStream, filter: SubscriptionFilter): void {
    stream.acknowledge(filter);
    // Nothing to deliver: acknowledge and end, as the v2 SDK does.
    if (Object.keys(filter).length === 0) stream.end("graceful");
    else void this.#beat(stream);
  }

  /** Delivers a change notification to the streams that asked for it (see the module doc). */
  publish(
    n: { method: string; params?: Record<string, unknown> },
    target?: { identityKey?: string },
  ): void {
    const key = target?.identityKey;
    const updated = n.method === "notifications/resources/updated";
    if (!KIND_OF[n.method] && !updated) return;
    if (updated && key === undefined) {
      this.#o.log.debug("dropped a resource update without an identity", {});
      return;
    }
    const streams = key === undefined ? this.#streams : this.#byIdentity.get(key);
    if (!streams?.size) return;
    const uri = n.params?.uri;
    for (const s of [...streams]) if (s.wants(n.method, uri)) s.send(n);
  }

  /** Ends every stream with the listen request's result (graceful) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const s of [...this.#streams]) s.end("graceful");
  }

  #closeResult(id: RequestId) {
    const info = this.#o.serverInfo;
    return {
      resultType: "complete",
      _meta: { [SUBSCRIPTION_ID_META_KEY]: id, ...(info ? { [SERVER_INFO_META_KEY]: info } : {}) },
    };
  }

  #refuse(id: RequestId, identityKey: string, limit: string, max: number): Response {
    this.#warnRefused("refused a listen stream: subscription limit reached", {
      limit,
      max,
      identity: hashKey(identityKey),
    });
    return rpcError(id, -32603, "Subscription limit reached", { limit, max });
  }

  async #beat(stream: ListenStream): Promise<void> {
    const setting = this.#o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const signal = stream.stop.signal;
    while (!signal.aborted) {
      const ms = typeof setting === "function" ? setting() : setting;
      if (!(ms > 0)) return;
      try {
        await this.#clock.sleep(ms, signal);
      } catch {
        return; // the stream ended
      }
      stream.write(PING);
    }
  }

  #add(s: ListenStream): void {
    this.#streams.add(s);
    let mine = this.#byIdentity.get(s.identityKey);
    if (!mine) this.#byIdentity.set(s.identityKey, mine = new Set());
    mine.add(s);
  }

  #forget(s: ListenStream): void {
    if (!this.#streams.delete(s)) return;
    const mine = this.#byIdentity.get(s.identityKey);
    mine?.delete(s);
    if (mine?.size === 0) this.#byIdentity.delete(s.identityKey);
  }
}

function sse(body: ReadableStream<Uint8Array>): Response {
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
