import assert from "node:assert/strict";
import { serveGuarded } from "./http_server.ts";

const PATIENCE_MS = 30_000;
const encoder = new TextEncoder();

async function until(what: string, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends a POST whose body follows its head in a separate write (as `fetch` often does). */
async function postInTwoWrites(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call"}';
  await conn.write(
    encoder.encode(`POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n`),
  );
  await new Promise((r) => setTimeout(r, 50));
  await conn.write(encoder.encode(body));
  return conn;
}

Deno.test("serveGuarded(): a client that closes its connection while a request runs aborts request.signal", async () => {
  const stop = new AbortController();
  const release = Promise.withResolvers<void>();
  let started = false;
  let aborted = false;
  const server = serveGuarded(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal },
    async (req) => {
      await req.bytes();
      started = true;
      req.signal.addEventListener("abort", () => (aborted = true), { once: true });
      await release.promise;
      return new Response("late");
    },
  );
  try {
    const conn = await postInTwoWrites(server.addr.port);
    await until("the handler to start", () => started);
    conn.close();
    await until("request.signal to abort", () => aborted);
    assert.equal(server.stats().closedPeer, 1);
  } finally {
    release.resolve();
    stop.abort();
    await server.finished;
  }
});

Deno.test("serveGuarded(): a long request of a client that stays is answered, not cut", async () => {
  const stop = new AbortController();
  const server = serveGuarded(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal },
    async (req) => {
      await req.bytes();
      await new Promise((r) => setTimeout(r, 2500)); // past a scan of the connection table
      return new Response("done");
    },
  );
  try {
    const conn = await postInTwoWrites(server.addr.port);
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("done")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /done$/);
    assert.equal(server.stats().closedPeer, 0);
  } finally {
    stop.abort();
    await server.finished;
  }
});
