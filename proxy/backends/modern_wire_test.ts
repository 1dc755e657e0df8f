import assert from "node:assert/strict";
import { readAnswer } from "./modern_wire.ts";

/** An SSE response whose body arrives as `chunks`. */
function sse(chunks: string[]): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

/** `text` cut into pieces of `size` characters. */
const cut = (text: string, size: number) =>
  Array.from(
    { length: Math.ceil(text.length / size) },
    (_, i) => text.slice(i * size, (i + 1) * size),
  );

const progress = (i: number) =>
  JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: i } });
const answer = (t: string) => JSON.stringify({ jsonrpc: "2.0", id: 7, result: { t } });

Deno.test("modern wire: an SSE answer split anywhere, with LF, CRLF or CR line ends, reads the same", async () => {
  for (const nl of ["\n", "\r\n", "\r"]) {
    const text = [
      `: comment${nl}`,
      `event: message${nl}data: ${progress(1)}${nl}${nl}`,
      `data: ${progress(2)}${nl}${nl}`,
      `event: message${nl}data: ${answer("done")}${nl}${nl}`,
    ].join("");
    for (const size of [1, 2, 3, 7, 64, text.length]) {
      const seen: unknown[] = [];
      const got = await readAnswer(sse(cut(text, size)), 7, (m) => seen.push(m.params?.progress));
      assert.deepEqual(got, JSON.parse(answer("done")), `line end ${JSON.stringify(nl)}, ${size}`);
      assert.deepEqual(seen, [1, 2], `line end ${JSON.stringify(nl)}, pieces of ${size}`);
    }
  }
});

Deno.test("modern wire: data lines of one event are joined; a CRLF split between chunks ends one line", async () => {
  const got = await readAnswer(
    sse(['data: {"jsonrpc":"2.0",\r', '\ndata: "id":7,"result":{"t":"x"}}\r', "\n\r", "\n"]),
    7,
  );
  assert.deepEqual(got, { jsonrpc: "2.0", id: 7, result: { t: "x" } });
});

Deno.test("modern wire: a multi-megabyte answer in small chunks is read whole", async () => {
  const big = "x".repeat(4 * 1024 * 1024);
  const got = await readAnswer(sse(cut(`data: ${answer(big)}\n\n`, 16 * 1024)), 7);
  assert.equal((got as unknown as { result: { t: string } }).result.t.length, big.length);
});
