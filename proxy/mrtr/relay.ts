/**
 * A retry on another replica (ADR 0010 §4, step 6). A parked call lives in the process that
 * parked it; a 2026-07-28 client's retry may reach any replica. With `sessionStorage` redis,
 * each replica subscribes to `<keyPrefix>park:<replicaId>` (a connection duplicated from its
 * publisher). A retry whose park state names another replica is published there (relay_wire.ts);
 * the owner verifies the state again, runs the same `ParkedCalls.resume` a local retry runs, and
 * publishes the outcome to the receiver's channel. The answer is plain JSON (progress and log
 * notifications stay on the owner).
 *
 * The receiver waits at most `waitMs` (the backend timeout). Owner gone (`PUBLISH` reached no
 * subscriber), no Redis or Redis down, or the wait over: `RequestStateError("not_pending")`
 * (-32602 "…no longer pending; call again without requestState"). Nothing runs twice: the relay
 * only delivers answers to a call in flight, and each round is one-shot in `ParkedCalls`. A
 * receiver that stops waiting sends `cancel` and the owner abandons the resume (as for a local
 * client that left); the owner also gives up after `waitMs` itself, and answers not-pending on
 * shutdown.
 *
 * Bounds: `maxWaits` relayed retries waiting here and `maxWaits` served here (past it -32603,
 * the round not used up); `maxMessageBytes` per message (a longer retry -32602, a longer answer
 * -32603). Junk on the channel is ignored, warned at most once a minute. The binding's identity
 * key travels through Redis, as in the session store's per-identity counts.
 * @module
 */
import type { Redis } from "ioredis";
import { type Clock, systemClock } from "../../core/clock.ts";
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import { RpcError } from "../backends/errors.ts";
import { createFailFastRedis, type RedisEndpoint } from "../redis_client.ts";
import type { ParkedCalls } from "./parking.ts";
import {
  answerText,
  errorAnswer,
  parseRelayMessage,
  type RelayMessage,
  type ResumeMessage,
  settleAnswer,
  type WireAnswer,
} from "./relay_wire.ts";
import {
  type OpenedState,
  RequestStateError,
  type StateBinding,
  type StateCodec,
} from "./state.ts";

type AnyObject = Record<string, unknown>;

/** The Redis the relay uses (the session store's, from `sessionStorage`). */
export interface RelayRedisOptions extends RedisEndpoint {
  /** `sessionStorage.keyPrefix`; the channels are `<keyPrefix>park:<replicaId>`. */
  keyPrefix: string;
  /** @default 1000 */
  commandTimeoutMs?: number;
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** @default 2000 */
  maxReconnectDelayMs?: number;
}

export interface ParkRelayOptions {
  /** This replica's parked calls (its `replicaId` names the channel). */
  parked: ParkedCalls;
  /** Verifies a relayed state again on the owner. */
  codec: StateCodec;
  log: Logger;
  /** Without one there is no relay: a retry for another replica is not pending. */
  redis?: RelayRedisOptions | undefined;
  /** How long a relayed retry waits for the owner's answer (the backend timeout). */
  waitMs: number;
  /** Relayed retries waiting here, and served here for others, at most (each). @default 256 */
  maxWaits?: number;
  /** A relay message's size at most, in bytes. @default 4 MiB */
  maxMessageBytes?: number;
  clock?: Clock;
}

/** A verified retry, as the front door holds it. */
export interface RelayRetry {
  /** `codec.open(requestState, binding)`. */
  state: OpenedState;
  /** The sealed text itself (the owner verifies it again). */
  requestState: string;
  binding: StateBinding;
  inputResponses: unknown;
}

interface Waiter {
  owner: string;
  resolve(value: AnyObject): void;
  reject(err: unknown): void;
}

const encoder = new TextEncoder();

/** The relay of one replica's parked calls (see the module doc). */
export class ParkRelay {
  readonly #o: Required<Omit<ParkRelayOptions, "redis">> & { redis?: RelayRedisOptions };
  readonly #warn: (msg: string, fields?: AnyObject) => void;
  readonly #waits = new Map<string, Waiter>();
  /** Relayed retries served here: how to stop each, and where its answer goes. */
  readonly #served = new Map<string, { ac: AbortController; replyTo: string }>();
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  #subscribed = false;
  #down = false;
  #closed = false;

  constructor(opts: ParkRelayOptions) {
    this.#o = {
      ...opts,
      clock: opts.clock ?? systemClock,
      maxWaits: opts.maxWaits ?? 256,
      maxMessageBytes: opts.maxMessageBytes ?? 4 * 1024 * 1024,
    };
    this.#warn = warnAtMostEvery(opts.log, 60_000, () => this.#o.clock.now());
  }

  get replicaId(): string {
    return this.#o.parked.replicaId;
  }

  /** This replica's channel (`undefined` without Redis). */
  get channel(): string | undefined {
    return this.#o.redis ? this.#channelOf(this.replicaId) : undefined;
  }

  /** Whether retries for other replicas can be relayed now (connected and subscribed). */
  get ready(): boolean {
    return this.#subscribed && this.#pub?.status === "ready" && this.#sub?.status === "ready";
  }

  /** Relayed retries waiting on this replica, and being served here for other replicas. */
  get stats(): { waiting: number; serving: number } {
    return { waiting: this.#waits.size, serving: this.#served.size };
  }

  /**
   * Connects and subscribes; resolves when subscribed, or after `timeoutMs` either way (the
   * relay then refuses remote retries until Redis answers, and subscribes when it does).
   */
  async start(timeoutMs = 2000): Promise<void> {
    const r = this.#o.redis;
    if (!r || this.#pub || this.#closed) return;
    const pub = createFailFastRedis({
      ...r,
      field: "sessionStorage.address",
      connectTimeoutMs: r.connectTimeoutMs ?? 2000,
      commandTimeoutMs: r.commandTimeoutMs ?? 1000,
      baseReconnectDelayMs: 25,
      maxReconnectDelayMs: r.maxReconnectDelayMs ?? 2000,
      isClosed: () => this.#closed,
    });
    const sub = pub.duplicate();
    this.#pub = pub;
    this.#sub = sub;
    const channel = this.#channelOf(this.replicaId);
    for (const c of [pub, sub]) {
      c.on("error", (err: Error) => this.#lost(err));
      c.on("end", () => this.#lost(new Error("connection closed")));
    }
    sub.on("close", () => (this.#subscribed = false));
    pub.on("ready", () => this.#subscribed && this.#recovered());
    sub.on("message", (_channel: string, text: string) => this.#onMessage(text));
    const subscribed = new Promise<void>((resolve) => {
      const subscribe = () => {
        sub.subscribe(channel).then(() => {
          this.#subscribed = true;
          if (pub.status === "ready") this.#recovered();
          resolve();
        }, (err) => this.#lost(err));
      };
      sub.on("ready", subscribe);
      if (sub.status === "ready") subscribe();
    });
    const bound = new AbortController();
    await Promise.race([subscribed, this.#o.clock.sleep(timeoutMs, bound.signal).catch(() => {})]);
    bound.abort();
  }

  /** Stops relaying: waiting retries get not-pending, served ones are abandoned. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [relayId, w] of this.#waits) {
      this.#send(w.owner, { t: "cancel", relayId }); // its owner stops serving it now
      w.reject(new RequestStateError("not_pending"));
    }
    this.#waits.clear();
    for (const [relayId, { ac, replyTo }] of this.#served) {
      // Its receiver learns now, not after its wait bound (sent before the QUIT below).
      this.#send(replyTo, { t: "answer", relayId, refusal: "not_pending" });
      ac.abort(new Error("vmcp is shutting down"));
    }
    this.#served.clear();
    this.#subscribed = false;
    for (const c of [this.#sub, this.#pub]) {
      if (!c) continue;
      if (c.status === "ready") await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    }
  }

  /** Whether `state` names a call parked on this replica. */
  isLocal(state: OpenedState): boolean {
    return state.kind !== "park" || state.r === this.replicaId;
  }

  /**
   * A retry: resumed here when its call is parked here (`ParkedCalls.resume`), else relayed to
   * the replica holding it. Answers the call's result or next `input_required`; throws the
   * call's error, a `RequestStateError` (answer `toJsonRpc()` with HTTP 200) or an `RpcError`.
   */
  resume(retry: RelayRetry, opts: { signal?: AbortSignal } = {}): Promise<AnyObject> {
    if (this.isLocal(retry.state)) {
      return this.#o.parked.resume(retry.state, retry.inputResponses, opts);
    }
    return this.#relay(retry, (retry.state as { r: string }).r, opts.signal);
  }

  #relay(retry: RelayRetry, owner: string, signal?: AbortSignal): Promise<AnyObject> {
    const pub = this.#pub;
    if (!this.#o.redis || this.#closed || !pub || !this.ready) {
      this.#warn("retry for a call parked on another replica refused: no relay", {
        reason: this.#o.redis ? "redis unavailable" : "no sessionStorage redis",
      });
      return Promise.reject(new RequestStateError("not_pending"));
    }
    if (this.#waits.size >= this.#o.maxWaits) return Promise.reject(this.#busy("here"));
    const relayId = crypto.randomUUID();
    const msg: ResumeMessage = {
      t: "resume",
      relayId,
      state: retry.requestState,
      binding: retry.binding,
      inputResponses: retry.inputResponses,
      replyTo: this.#channelOf(this.replicaId),
      waitMs: this.#o.waitMs,
    };
    const text = JSON.stringify(msg);
    const size = encoder.encode(text).byteLength;
    if (size > this.#o.maxMessageBytes) {
      return Promise.reject(
        new RpcError(
          -32602,
          `vmcp: this retry is ${size} bytes; a retry relayed to the replica holding its call ` +
            `may be at most ${this.#o.maxMessageBytes} bytes (inputResponses too large)`,
        ),
      );
    }
    const ownerChannel = this.#channelOf(owner);
    return new Promise<AnyObject>((resolve, reject) => {
      const timer = new AbortController();
      const end = () => {
        this.#waits.delete(relayId);
        timer.abort();
        signal?.removeEventListener("abort", onAbort);
      };
      const giveUp = (err: unknown) => {
        if (!this.#waits.has(relayId)) return;
        end();
        this.#send(ownerChannel, { t: "cancel", relayId });
        reject(err);
      };
      const onAbort = () => giveUp(signal!.reason);
      this.#waits.set(relayId, {
        owner: ownerChannel,
        resolve: (v) => (end(), resolve(v)),
        reject: (e) => (end(), reject(e)),
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#o.clock.sleep(this.#o.waitMs, timer.signal).then(() => {
        this.#o.log.info("relayed retry: no answer from the replica holding the call in time", {
          owner,
          waitMs: this.#o.waitMs,
        });
        giveUp(new RequestStateError("not_pending"));
      }, () => {});
      pub.publish(ownerChannel, text).then((receivers) => {
        if (receivers > 0 || !this.#waits.has(relayId)) return;
        this.#o.log.info("relayed retry: the replica holding the call is gone", { owner });
        this.#waits.get(relayId)?.reject(new RequestStateError("not_pending"));
      }, (err) => {
        this.#lost(err);
        this.#waits.get(relayId)?.reject(new RequestStateError("not_pending"));
      });
    });
  }

  #onMessage(text: string): void {
    const msg = parseRelayMessage(text, this.#o.maxMessageBytes);
    if (!msg) {
      this.#warn("park relay: ignored a message that is not a relay message", {
        channel: this.channel,
        chars: text.length,
      });
      return;
    }
    if (msg.t === "answer") return this.#answered(msg);
    if (msg.t === "cancel") return void this.#served.get(msg.relayId)?.ac.abort(cancelled());
    void this.#serve(msg);
  }

  #answered(a: WireAnswer): void {
    const w = this.#waits.get(a.relayId);
    if (!w) return; // it stopped waiting (answered not-pending already)
    const s = settleAnswer(a);
    if (s.ok) w.resolve(s.value);
    else w.reject(s.error);
  }

  /** The owner's side: the same resume a local retry runs, its outcome sent back. */
  async #serve(m: ResumeMessage): Promise<void> {
    const prefix = this.#channelOf("");
    if (!m.replyTo.startsWith(prefix) || m.replyTo === this.channel) {
      this.#warn("park relay: ignored a retry with a reply channel outside this deployment", {
        channel: this.channel,
      });
      return;
    }
    if (this.#served.has(m.relayId)) return; // delivered twice: the first one answers
    if (this.#served.size >= this.#o.maxWaits) {
      return this.#answer(m.replyTo, errorAnswer(m.relayId, this.#busy("on its owner")));
    }
    const ac = new AbortController();
    this.#served.set(m.relayId, { ac, replyTo: m.replyTo });
    const deadline = new AbortController();
    this.#o.clock.sleep(Math.min(m.waitMs, this.#o.waitMs), deadline.signal).then(
      () => ac.abort(cancelled()),
      () => {},
    );
    let answer: WireAnswer;
    try {
      const state = this.#open(m);
      const value = await this.#o.parked.resume(state, m.inputResponses, { signal: ac.signal });
      answer = { t: "answer", relayId: m.relayId, result: value };
    } catch (err) {
      answer = errorAnswer(
        m.relayId,
        ac.signal.aborted && err === ac.signal.reason ? new RequestStateError("not_pending") : err,
      );
    } finally {
      deadline.abort();
      this.#served.delete(m.relayId);
    }
    if (ac.signal.aborted) return; // nobody waits for it any more
    this.#answer(m.replyTo, answer);
  }

  /** The relayed state, verified again here (the channel is not trusted with a forged one). */
  #open(m: ResumeMessage): OpenedState {
    let state: OpenedState;
    try {
      state = this.#o.codec.open(m.state, m.binding);
    } catch (err) {
      if (err instanceof RequestStateError) {
        this.#warn("relayed requestState refused", { reason: err.reason });
      }
      throw err;
    }
    if (state.kind !== "park" || state.r !== this.replicaId) {
      throw new RequestStateError("not_pending");
    }
    return state;
  }

  #answer(channel: string, answer: WireAnswer): void {
    const { text, tooLarge } = answerText(answer, this.#o.maxMessageBytes);
    if (tooLarge) {
      this.#o.log.warn("relayed retry: the answer is too large to relay", {
        bytes: tooLarge,
        maxMessageBytes: this.#o.maxMessageBytes,
      });
    }
    this.#send(channel, text);
  }

  #send(channel: string, message: RelayMessage | string): void {
    const text = typeof message === "string" ? message : JSON.stringify(message);
    this.#pub?.publish(channel, text).catch((err) => this.#lost(err));
  }

  #busy(where: string): RpcError {
    this.#warn("relayed retry refused: too many relayed retries", {
      where,
      maxWaits: this.#o.maxWaits,
    });
    return new RpcError(
      -32603,
      `vmcp: ${this.#o.maxWaits} retries relayed between replicas wait ${where} already; ` +
        `retry later with the same requestState`,
    );
  }

  #lost(err: unknown): void {
    if (this.#closed) return;
    if (this.#sub?.status !== "ready") this.#subscribed = false;
    if (this.#down) return;
    this.#down = true;
    this.#o.log.warn(
      "park relay: Redis unavailable, retries for calls parked on other replicas are refused",
      { error: err instanceof Error ? err.message : String(err) },
    );
  }

  #recovered(): void {
    if (!this.#down || this.#closed) return;
    this.#down = false;
    this.#o.log.info("park relay: Redis is back, retries reach other replicas again");
  }

  #channelOf(replicaId: string): string {
    return `${this.#o.redis?.keyPrefix ?? ""}park:${replicaId}`;
  }
}

function cancelled(): Error {
  return new Error("the replica that relayed this retry stopped waiting");
}
