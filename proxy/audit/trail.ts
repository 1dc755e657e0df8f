/**
 * The proxy's audit trail across config reloads: `apply(config.audit)` answers the `Auditor`
 * to use (undefined while off), reusing the running one when the settings did not change and
 * otherwise opening the new output before the old one is flushed and closed; requests that
 * began on the old auditor record their events in the new output (no event lost).
 * `vmcp_audit_events_dropped_total` (on the proxy's /metrics registry) counts events dropped
 * because the output could not keep up, across reloads.
 * @module
 */
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../../core/log.ts";
import type { AuditConfig } from "../../crds/audit.ts";
import { Auditor, type AuditRecord, serializeRecord } from "./auditor.ts";
import { AuditWriter, fileSink, stderrSink } from "./writer.ts";

export class AuditTrail {
  readonly #log: Logger;
  readonly #dropped: Counter;
  #current: Auditor | undefined;
  #settings = "null";

  constructor(registry: Registry, log: Logger) {
    this.#log = log;
    this.#dropped = new Counter({
      name: "vmcp_audit_events_dropped_total",
      help: "Audit events dropped because the audit output could not keep up (or failed).",
      registers: [registry],
    });
  }

  /** The running auditor (undefined while audit is off). */
  get current(): Auditor | undefined {
    return this.#current;
  }

  /**
   * Applies `config` (a start or a reload) and answers the auditor to use.
   * @throws {Error} naming `audit.filePath` when the file cannot be opened (the old one stays)
   */
  async apply(config: AuditConfig | undefined): Promise<Auditor | undefined> {
    const on = config?.enabled ? config : undefined;
    const settings = JSON.stringify(on ?? null);
    if (settings === this.#settings) return this.#current;
    const next = on ? await this.#open(on) : undefined;
    const old = this.#current;
    this.#current = next;
    this.#settings = settings;
    if (on) {
      this.#log.info("audit trail on", {
        output: on.output === "file" ? on.filePath : "stderr",
        includeRequestData: on.includeRequestData,
      });
    } else if (old) this.#log.info("audit trail off");
    // Requests still running on the old auditor record their events in the new output.
    await old?.close(next);
    return next;
  }

  async #open(config: AuditConfig): Promise<Auditor> {
    const sink = config.output === "file" ? await fileSink(config.filePath!) : stderrSink();
    const writer = new AuditWriter<AuditRecord>({
      sink,
      maxBuffered: config.maxBufferedEvents,
      serialize: serializeRecord,
      log: this.#log,
      onDrop: (n) => this.#dropped.inc(n),
    });
    return new Auditor(config, writer);
  }

  /** Writes what is buffered and closes the output (proxy shutdown). */
  async close(): Promise<void> {
    const old = this.#current;
    this.#current = undefined;
    this.#settings = "null";
    await old?.close();
  }
}
