/**
 * Writes audit events in the background: `push` only appends to a bounded buffer (no I/O, no
 * serialization on the caller's path); a drain task started by a zero-delay timer serializes
 * everything buffered into one text and writes it with one asynchronous write, repeating while
 * events keep coming. While the buffer is full (the output cannot keep up) new events are
 * dropped: `onDrop` counts them and one warning a minute at most says so. A failed write drops
 * its batch the same way; the proxy never fails a request for its audit trail.
 * @module
 */
import { type Logger, warnAtMostEvery } from "../../core/log.ts";

/** Where serialized event lines go. */
export interface AuditSink {
  /** `stderr` or the file path (for messages). */
  readonly name: string;
  /** Writes all of `bytes` (one or more whole lines). */
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  let at = 0;
  while (at < bytes.byteLength) at += await w.write(bytes.subarray(at));
}

/** The process's stderr (beside the operational log; events carry `"audit":true`). */
export function stderrSink(): AuditSink {
  return {
    name: "stderr",
    write: (bytes) => writeAll(Deno.stderr, bytes),
    close: () => Promise.resolve(),
  };
}

/**
 * Appends to `path` (created with mode 0600 when missing).
 * @throws {Deno.errors.NotFound} and other open errors, naming the path in the message
 */
export async function fileSink(path: string): Promise<AuditSink> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
  } catch (err) {
    throw new Error(
      `audit.filePath "${path}" cannot be opened for appending: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let closed = false;
  return {
    name: path,
    write: (bytes) => writeAll(file, bytes),
    close: () => {
      if (!closed) {
        closed = true;
        file.close();
      }
      return Promise.resolve();
    },
  };
}

export interface AuditWriterOptions<T> {
  sink: AuditSink;
  /** Events buffered at most; more are dropped until the drain catches up. */
  maxBuffered: number;
  /** One JSON line (without the newline) per event. */
  serialize: (event: T) => string;
  log: Logger;
  /** Called with the number of events dropped (buffer full or failed write). */
  onDrop?: (count: number) => void;
  /** @default 60 000 */
  warnEveryMs?: number;
}

const encoder = new TextEncoder();

export class AuditWriter<T> {
  readonly #o: AuditWriterOptions<T>;
  #pending: T[] = [];
  #draining: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dropped = 0;
  #written = 0;
  #closed = false;
  /** Takes the events pushed after `close(successor)` (requests that began before a reload). */
  #successor: AuditWriter<T> | undefined;
  readonly #warn: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(opts: AuditWriterOptions<T>) {
    if (!Number.isInteger(opts.maxBuffered) || opts.maxBuffered < 1) {
      throw new RangeError(`maxBuffered must be a positive integer, got ${opts.maxBuffered}`);
    }
    this.#o = opts;
    this.#warn = warnAtMostEvery(opts.log, opts.warnEveryMs ?? 60_000);
  }

  /** Events dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events written so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Buffers `event` for the background drain (drops it when the buffer is full, or when closed
   * without a successor).
   */
  push(event: T): void {
    if (this.#successor !== undefined) return this.#successor.push(event);
    if (this.#closed || this.#pending.length >= this.#o.maxBuffered) {
      this.#drop(1, this.#closed ? "the audit trail is closed" : "the buffer is full");
      return;
    }
    this.#pending.push(event);
    if (this.#draining === undefined && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#startDrain();
      }, 0);
    }
  }

  #drop(count: number, why: string): void {
    this.#dropped += count;
    this.#o.onDrop?.(count);
    this.#warn("audit events dropped: the audit output cannot keep up", {
      output: this.#o.sink.name,
      why,
      dropped: count,
      droppedTotal: this.#dropped,
      maxBufferedEvents: this.#o.maxBuffered,
    });
  }

  #startDrain(): Promise<void> {
    return this.#draining ??= this.#drain().finally(() => (this.#draining = undefined));
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      let text = "";
      for (const e of batch) text += this.#o.serialize(e) + "\n";
      try {
        await this.#o.sink.write(encoder.encode(text));
        this.#written += batch.length;
      } catch (err) {
        this.#drop(batch.length, `write failed: ${(err as Error).message ?? String(err)}`);
      }
    }
  }

  /** Resolves once every event buffered before the call is written (or dropped). */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#pending.length > 0 || this.#draining) await this.#startDrain();
  }

  /**
   * Writes what is buffered, then closes the sink. Later events go to `successor` (the writer
   * of a reloaded audit config), else they are dropped.
   */
  async close(successor?: AuditWriter<T>): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#successor = successor;
    await this.#o.sink.close();
  }
}
