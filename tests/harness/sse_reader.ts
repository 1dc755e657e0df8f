/**
 * Reads a `text/event-stream` Response body frame by frame (tests of SSE answers: listen
 * streams, GET streams). Reads the body directly, so `cancel()` reaches the server at once.
 * @module
 */
import assert from "node:assert/strict";

/** How long `next()` waits for a frame before failing the test. */
const PATIENCE_MS = 30_000;

export type SseFrame = { comment: string } | { message: Record<string, unknown> };

/** Reads SSE frames off a Response body (comments and `data:` messages). */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";
  constructor(readonly response: Response) {
    // Read the body itself (no pipe), so that cancel reaches the hub at once.
    this.#reader = response.body!.getReader();
  }
  /** The next frame, or undefined when the stream ended. */
  async next(): Promise<SseFrame | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const frame = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        if (frame.startsWith(":")) return { comment: frame.slice(1).trim() };
        const data = frame.split("\n").filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6)).join("\n");
        return { message: JSON.parse(data) };
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no SSE frame within 30 s")), PATIENCE_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) return undefined;
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }
  /** The next message (comments such as heartbeats skipped); fails if the stream ended. */
  async message(): Promise<Record<string, unknown>> {
    for (;;) {
      const f = await this.next();
      assert.ok(f, "the SSE stream ended where a message was expected");
      if ("message" in f) return f.message;
    }
  }
  /** Cancels the body (the client goes away). */
  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}
