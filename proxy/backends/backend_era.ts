/**
 * The protocol era of one backend and, when it is modern, its stateless connection (ADR 0010,
 * section 3). `backends[].protocol` decides: `legacy` (the only era of sse and stdio) never
 * probes; `auto` probes with `server/discover` before first use and again after it is
 * forgotten (reconnect, health transition) or refreshed (each rediscovery and health check of
 * a modern backend); `modern` requires a modern answer. A new config builds a new `Backend`,
 * so a config change probes again too. An outage (timeout, refused, 5xx) is thrown: never a
 * verdict.
 * @module
 */
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import type { Logger } from "../../core/log.ts";
import { probeEra } from "./era_probe.ts";
import {
  BackendCredentialsError,
  BackendTimeoutError,
  BackendUnavailableError,
  findCause,
} from "./errors.ts";
import { type IdentityHeaders, StatelessBackendConnection } from "./stateless_connection.ts";

export type Protocol = "auto" | "legacy" | "modern";
export type Era = "legacy" | "modern";

/** The configured protocol with its default (auto for streamable-http, legacy otherwise). */
export function protocolOf(config: BackendConfig): Protocol {
  if (config.transport !== "streamable-http") return "legacy";
  return config.protocol ?? "auto";
}

/**
 * `err` of a refused `initialize` under `protocol: legacy` (HTTP 4xx): the same error with a
 * first sentence saying the backend may speak only 2026-07-28 and what to set.
 */
export function legacyRefused(config: BackendConfig, err: unknown): unknown {
  if (config.protocol !== "legacy" || config.transport !== "streamable-http") return err;
  if (!(err instanceof BackendUnavailableError)) return err;
  const status = err.httpStatus;
  if (status === undefined || status < 400 || status > 499) return err;
  return new BackendUnavailableError(
    config.name,
    `protocol is "legacy" but the backend refused initialize (HTTP ${status}); it may speak only MCP 2026-07-28: set protocol to auto or modern. ${err.reason}`,
    status,
  );
}

export interface BackendEraDeps {
  config: BackendConfig;
  timeoutMs(): number;
  log: Logger;
  headersFor?: IdentityHeaders;
  onListChanged(kind: "tools" | "resources" | "prompts"): void;
  /** A probe failed (an outage): reported like a failed `initialize`. */
  onProbeFailed(err: unknown, ms: number): void;
  /** The verdict changed from one era to the other: drop the old era's connections. */
  onSwitch(to: Era): Promise<void>;
}

export class BackendEra {
  readonly protocol: Protocol;
  #verdict: Era | undefined;
  /** The last verdict, kept when forgotten: a change of era drops the old era's connections. */
  #last: Era | undefined;
  #conn: StatelessBackendConnection | undefined;
  #probing: Promise<StatelessBackendConnection | undefined> | undefined;
  /** Why the last probe said legacy (for logs). */
  legacyReason: string | undefined;
  #closed = false;

  constructor(readonly deps: BackendEraDeps) {
    this.protocol = protocolOf(deps.config);
    if (this.protocol === "legacy") this.#verdict = "legacy";
  }

  /** The stateless connection of the last modern verdict, if any (no probe). */
  get connection(): StatelessBackendConnection | undefined {
    return this.#conn;
  }

  /** The last verdict; undefined until probed (or after it was forgotten). */
  get verdict(): Era | undefined {
    return this.#verdict;
  }

  /**
   * The stateless connection when the backend is modern, undefined when legacy; probes first
   * when the era is unknown (concurrent callers share one probe). Synchronous when known.
   */
  resolve():
    | StatelessBackendConnection
    | undefined
    | Promise<StatelessBackendConnection | undefined> {
    if (this.#verdict === "legacy") return undefined;
    if (this.#verdict === "modern" && this.#conn && !this.#conn.closed) return this.#conn;
    return this.refresh();
  }

  /** Probes now (one probe at a time, `timeoutMs` defaults to the backend's), adopting the answer. */
  refresh(timeoutMs?: number): Promise<StatelessBackendConnection | undefined> {
    if (this.protocol === "legacy") return Promise.resolve(undefined);
    return this.#probing ??= this.#probe(timeoutMs ?? this.deps.timeoutMs()).finally(() =>
      this.#probing = undefined
    );
  }

  /** Forgets the verdict: the next use probes again. */
  forget(): void {
    if (this.protocol !== "legacy") this.#verdict = undefined;
  }

  async #probe(timeoutMs: number): Promise<StatelessBackendConnection | undefined> {
    const started = performance.now();
    try {
      return await this.#probeOnce(timeoutMs);
    } catch (err) {
      this.deps.onProbeFailed(err, performance.now() - started);
      throw err;
    }
  }

  async #probeOnce(timeoutMs: number): Promise<StatelessBackendConnection | undefined> {
    const { config, log } = this.deps;
    const ac = new AbortController();
    const timer = setTimeout(
      () =>
        ac.abort(new BackendTimeoutError(config.name, timeoutMs, "era probe (server/discover)")),
      timeoutMs,
    );
    try {
      const headers = this.deps.headersFor
        ? await this.deps.headersFor(undefined, ac.signal).catch((err) => {
          const credentials = findCause(err, "OutgoingAuthError");
          throw credentials ? new BackendCredentialsError(config.name, credentials.message) : err;
        })
        : {};
      const v = await probeEra(config, headers, ac.signal);
      if (this.#closed) throw new BackendUnavailableError(config.name, "proxy is shutting down");
      const before = this.#last;
      if (v.era === "legacy") {
        if (this.protocol === "modern") {
          throw new BackendUnavailableError(
            config.name,
            `protocol is "modern" but the backend does not speak MCP 2026-07-28: ${v.reason}`,
          );
        }
        if (before !== "legacy") {
          log.info("backend speaks the legacy protocol", { reason: v.reason });
        }
        this.legacyReason = v.reason;
        const old = this.#conn;
        this.#conn = undefined;
        await old?.close();
        if (old) await this.deps.onSwitch("legacy");
        this.#verdict = this.#last = "legacy";
        return undefined;
      }
      let conn = this.#conn;
      if (conn && !conn.closed) conn.adopt(v.discover);
      else {
        conn = new StatelessBackendConnection(
          config,
          v.discover,
          {
            onListChanged: (kind) => this.deps.onListChanged(kind),
            onBroken: (c) => {
              if (c !== this.#conn) return;
              this.forget();
              // Changes missed while the stream was down are found by rediscovery.
              this.deps.onListChanged("tools");
            },
          },
          log,
          this.deps.headersFor,
        );
        await conn.connect();
        this.#conn = conn;
        if (before !== "modern") log.info("backend speaks MCP 2026-07-28 (stateless)");
      }
      // The legacy connections go first (dropping them forgets the verdict).
      if (before === "legacy") await this.deps.onSwitch("modern");
      this.#verdict = this.#last = "modern";
      this.legacyReason = undefined;
      void conn.listen();
      return conn;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close();
  }
}
