import assert from "node:assert/strict";
import { Http1Pool } from "./http1.ts";
import { createBackendFetch } from "./http_client.ts";
import { ChunkedDecoder, encodeRequest, parseHead } from "./http1_wire.ts";
import * as wire from "./http1_wire.ts";

type Handler = (req: Request) => Response | Promise<Response>;

/** A real Deno.serve server on 127.0.0.1 plus a pool; both closed after `fn`. */
async function withServer(
  handler: Handler,
  fn: (base: URL, pool: Http1Pool) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    handler,
  );
  const pool = new Http1Pool();
  try {
    await fn(new URL(`http://127.0.0.1:${server.addr.port}/mcp`), pool);
  } finally {
    pool.close();
    ac.abort();
    await server.finished;
  }
}

/** A raw TCP server: `onConn` gets each accepted connection (index from 0). */
async function withRawServer(
  onConn: (conn: Deno.TcpConn, index: number) => Promise<void>,
  fn: (base: URL, pool: Http1Pool, accepted: () => number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      tasks.push(
        onConn(conn, accepted++).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch { /* closed */ }
        }),
      );
    }
  })();
  const pool = new Http1Pool();
  try {
    await fn(new URL(`http://127.0.0.1:${listener.addr.port}/mcp`), pool, () => accepted);
  } finally {
    pool.close();
    listener.close();
    await loop.catch(() => {});
    await Promise.all(tasks);
  }
}

/** Reads one request head (and a Content-Length body) from a raw connection. */
async function readRequest(conn: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return text === "" ? null : text;
    text += new TextDecoder().decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) continue;
    const len = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
    if (text.length >= end + 4 + len) return text;
  }
}

const write = (conn: Deno.Conn, s: string) => conn.write(new TextEncoder().encode(s));
const post = (body: string) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body,
});

Deno.test("a JSON POST is answered with status, headers and body, and the socket is reused", async () => {
  await withServer(async (req) => {
    const body = await req.json();
    return Response.json({ echo: body, method: req.method }, {
      headers: { "Mcp-Session-Id": "abc" },
    });
  }, async (url, pool) => {
    for (let i = 0; i < 3; i++) {
      const res = await pool.fetch(url, post(JSON.stringify({ i })));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("mcp-session-id"), "abc");
      assert.deepEqual(await res.json(), { echo: { i }, method: "POST" });
    }
    assert.equal(pool.openSockets, 1);
    assert.equal(pool.idleSockets, 1);
  });
});

Deno.test("request headers arrive whatever their casing, and response headers read case-insensitively", async () => {
  await withServer((req) =>
    new Response("ok", {
      headers: { "X-Seen": req.headers.get("x-custom") ?? "", "X-MiXeD-CaSe": "yes" },
    }), async (url, pool) => {
    const res = await pool.fetch(url, {
      method: "POST",
      headers: { "X-CUSTOM": "v1" },
      body: "",
    });
    assert.equal(res.headers.get("x-seen"), "v1");
    assert.equal(res.headers.get("X-Mixed-Case"), "yes");
    assert.equal(await res.text(), "ok");
  });
});

Deno.test("a chunked body and a large body arrive whole", async () => {
  const big = "x".repeat(3 * 1024 * 1024 + 17);
  await withServer(async (req) => {
    await req.text();
    if (new URL(req.url).searchParams.has("chunked")) {
      const parts = ["alpha-", "beta-", "gamma"];
      return new Response(
        new ReadableStream({
          pull(c) {
            const p = parts.shift();
            if (p) c.enqueue(new TextEncoder().encode(p));
            else c.close();
          },
        }),
      );
    }
    return new Response(big);
  }, async (url, pool) => {
    const chunked = new URL(url);
    chunked.search = "?chunked";
    const res1 = await pool.fetch(chunked, post("{}"));
    assert.equal(res1.headers.get("transfer-encoding"), "chunked");
    assert.equal(await res1.text(), "alpha-beta-gamma");
    const res2 = await pool.fetch(url, post("{}"));
    assert.equal((await res2.text()).length, big.length);
    const res3 = await pool.fetch(url, post("x".repeat(2 * 1024 * 1024)));
    assert.equal((await res3.text()).length, big.length);
    assert.equal(pool.openSockets, 1); // all three on one kept-alive socket
  });
});

Deno.test("an SSE response streams: events arrive before the response ends", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  await withServer(() => {
    const enc = new TextEncoder();
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(enc.encode("event: message\ndata: first\n\n"));
          await released;
          c.enqueue(enc.encode("data: second\n\n"));
          c.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  }, async (url, pool) => {
    const res = await pool.fetch(url, post("{}"));
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("first")) text += (await reader.read()).value;
    assert.ok(!text.includes("second"));
    release();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal(text, "event: message\ndata: first\n\ndata: second\n\n");
    assert.equal(pool.idleSockets, 1); // back in the pool once the stream ended
  });
});

Deno.test("aborting closes the socket, while waiting for the head and while the body streams", async () => {
  let stop!: () => void;
  const stopped = new Promise<void>((r) => stop = r);
  await withServer(async (req) => {
    if (new URL(req.url).searchParams.has("hang")) {
      await stopped;
      return new Response("late");
    }
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode("data: one\n\n"));
          await stopped;
          c.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  }, async (url, pool) => {
    const hang = new URL(url);
    hang.search = "?hang";
    const ac1 = new AbortController();
    const pending = pool.fetch(hang, { ...post("{}"), signal: ac1.signal });
    setTimeout(() => ac1.abort(new Error("gave up")), 30);
    await assert.rejects(pending, /gave up/);
    assert.equal(pool.openSockets, 0);

    const ac2 = new AbortController();
    const res = await pool.fetch(url, { ...post("{}"), signal: ac2.signal });
    const reader = res.body!.getReader();
    assert.ok((await reader.read()).value);
    const next = reader.read();
    ac2.abort(new Error("stop streaming"));
    await assert.rejects(next, /stop streaming/);
    assert.equal(pool.openSockets, 0);

    const ac3 = new AbortController();
    ac3.abort(new Error("before"));
    await assert.rejects(pool.fetch(url, { ...post("{}"), signal: ac3.signal }), /before/);
    stop();
  });
});

Deno.test("concurrent requests each get their own socket and their own answer", async () => {
  await withServer(async (req) => {
    const { n } = await req.json();
    await new Promise((r) => setTimeout(r, 5 * (n % 3)));
    return Response.json({ n });
  }, async (url, pool) => {
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        (_, n) => pool.fetch(url, post(JSON.stringify({ n }))).then((r) => r.json()),
      ),
    );
    assert.deepEqual(answers.map((a) => a.n), Array.from({ length: 20 }, (_, n) => n));
    assert.ok(pool.idleSockets > 1 && pool.idleSockets <= 20);
  });
});

Deno.test("an idle socket the server closes is dropped from the pool and the next request opens a new one", async () => {
  await withRawServer(async (conn) => {
    await readRequest(conn);
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    // Keep-alive not honoured: close the idle socket.
  }, async (url, pool, accepted) => {
    assert.equal(await (await pool.fetch(url, post("{}"))).text(), "ok");
    // Up to 30 s: a busy machine may be slow to see the close.
    for (let i = 0; i < 6000 && pool.openSockets > 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(pool.openSockets, 0);
    assert.equal(await (await pool.fetch(url, post("{}"))).text(), "ok");
    assert.equal(accepted(), 2);
  });
});

Deno.test("a stale pooled socket is retried once for idempotent requests; a written POST is never resent", async () => {
  const staleSecond = async (conn: Deno.Conn, index: number) => {
    await readRequest(conn);
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst");
    if (index === 0) {
      // Takes the next request, then closes without a byte of response (stale socket).
      await readRequest(conn);
      return;
    }
  };
  await withRawServer(staleSecond, async (url, pool, accepted) => {
    assert.equal(await (await pool.fetch(url, post("{}"))).text(), "first");
    const res = await pool.fetch(url, { method: "PUT", body: "{}" });
    assert.equal(await res.text(), "first");
    assert.equal(accepted(), 2);
  });
  await withRawServer(staleSecond, async (url, pool, accepted) => {
    assert.equal(await (await pool.fetch(url, post("{}"))).text(), "first");
    // The backend may have run this call before dying: exactly once beats a retry.
    await assert.rejects(pool.fetch(url, post("{}")), /closed before a response/);
    assert.equal(accepted(), 1);
  });
  // Every connection closes without answering: one attempt only.
  await withRawServer(async (conn) => {
    await readRequest(conn);
  }, async (url, pool, accepted) => {
    await assert.rejects(
      pool.fetch(url, { method: "PUT", body: "{}" }),
      /closed before a response/,
    );
    assert.equal(accepted(), 1);
  });
});

Deno.test("1xx interim responses are skipped and bodies without length run to the close", async () => {
  await withRawServer(async (conn) => {
    await readRequest(conn);
    await write(conn, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil-");
    await write(conn, "close");
  }, async (url, pool) => {
    const res = await pool.fetch(url, post("{}"));
    assert.equal(res.headers.get("x-a"), "1");
    assert.equal(await res.text(), "until-close");
    assert.equal(pool.openSockets, 0);
  });
});

Deno.test("createBackendFetch with a pool follows same-origin redirects only and leaves GETs to fetch", async () => {
  await withServer((req) => {
    const url = new URL(req.url);
    if (url.pathname === "/mcp") {
      return new Response(null, { status: 307, headers: { location: "/moved" } });
    }
    if (url.pathname === "/away") {
      return new Response(null, { status: 307, headers: { location: "http://127.0.0.2:1/x" } });
    }
    return new Response(`${req.method} ${url.pathname} ${req.headers.get("user-agent")}`);
  }, async (url, pool) => {
    const fetchFn = createBackendFetch({ http1: pool, getEnv: () => undefined });
    const res = await fetchFn(url, post("{}"));
    assert.match(await res.text(), /^POST \/moved Deno\//);
    const away = await fetchFn(new URL("/away", url), post("{}"));
    assert.equal(away.status, 307);
    assert.equal(away.headers.get("location"), "http://127.0.0.2:1/x");
    await away.body?.cancel();
    assert.equal(pool.openSockets, 1);
    const get = await fetchFn(new URL("/other", url));
    assert.match(await get.text(), /^GET \/other/);
    assert.equal(pool.openSockets, 1); // the GET did not use the pool
  });
});

Deno.test("a proxied host stays on fetch; NO_PROXY hosts use the pool", async () => {
  const seen: string[] = [];
  const fake = (u: string | URL) => {
    seen.push(String(u));
    return Promise.resolve(new Response("via fetch"));
  };
  const pool = new Http1Pool();
  try {
    const env: Record<string, string> = { HTTP_PROXY: "http://proxy:3128", NO_PROXY: "internal" };
    const f = createBackendFetch({ http1: pool, fetch: fake, getEnv: (n) => env[n] });
    const res = await f("http://backend.example:8080/mcp", post("{}"));
    assert.equal(await res.text(), "via fetch");
    assert.deepEqual(seen, ["http://backend.example:8080/mcp"]);
    // A NO_PROXY host goes to the pool (nothing listens there: the connect fails).
    await assert.rejects(f("http://svc.internal:1/mcp", post("{}")), /connect failed/);
    assert.equal(seen.length, 1);
  } finally {
    pool.close();
  }
});

Deno.test("wire: request encoding refuses header injection and writes one Content-Length", () => {
  const url = new URL("http://h:1/p?q=1");
  const bytes = encodeRequest(url, "POST", { "Content-Length": "99", A: "b" }, new Uint8Array(3), {
    userAgent: "t",
  });
  const text = new TextDecoder().decode(bytes);
  assert.match(text, /^POST \/p\?q=1 HTTP\/1\.1\r\nhost: h:1\r\nA: b\r\n/);
  assert.equal(text.match(/content-length/gi)?.length, 1);
  assert.match(text, /content-length: 3\r\n\r\n/);
  assert.throws(
    () => encodeRequest(url, "POST", { a: "x\r\nevil: 1" }, undefined, { userAgent: "t" }),
    /CR, LF/,
  );
  assert.throws(
    () => encodeRequest(url, "POST", { "bad name": "x" }, undefined, { userAgent: "t" }),
    /header name/,
  );
});

Deno.test("wire: chunked decoding across arbitrary splits, with extensions and trailers", () => {
  const raw = new TextEncoder().encode(
    "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT",
  );
  for (let split = 1; split < raw.length; split++) {
    const dec = new ChunkedDecoder();
    const out: Uint8Array[] = [];
    let used = dec.push(raw.subarray(0, split), out);
    if (!dec.done) used = split + dec.push(raw.subarray(split), out);
    assert.ok(dec.done);
    assert.equal(used, raw.length - 4);
    assert.equal(out.map((p) => new TextDecoder().decode(p)).join(""), "hello, world");
  }
  assert.throws(
    () => new ChunkedDecoder().push(new TextEncoder().encode("zz\r\n"), []),
    /chunk size/,
  );
});

Deno.test("wire: head parsing picks the body framing and keep-alive", () => {
  const head = (s: string, method = "POST") => parseHead(new TextEncoder().encode(s), method);
  assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").length, 5);
  assert.equal(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").length, "chunked");
  assert.equal(head("HTTP/1.1 200 OK\r\n\r\n").keepAlive, false);
  assert.equal(head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keepAlive, false);
  assert.equal(
    head("HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1\r\n\r\n").keepAlive,
    false,
  );
  assert.equal(head("HTTP/1.1 204 No Content\r\n\r\n").length, 0);
  assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD").length, 0);
  assert.throws(() => head("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"));
  assert.throws(() => head("SPDY 200\r\n\r\n"), /status line/);
});

Deno.test("abortAll fails requests in flight, also one still connecting, and the pool stays usable", async () => {
  const held: (() => void)[] = [];
  const hang = () => new Promise<Response>((r) => held.push(() => r(new Response(null))));
  const within = <T>(p: Promise<T>) =>
    // Generous: a request that was not failed would wait for ever.
    Promise.race([p, new Promise((r) => setTimeout(() => r("still waiting"), 10_000))]);
  await withServer(hang, async (base, pool) => {
    const waiting = pool.fetch(base, post("{}")).catch((e) => e);
    while (pool.openSockets === 0) await new Promise((r) => setTimeout(r, 2));
    const connecting = pool.fetch(base, post("{}")).catch((e) => e); // connect not done yet
    pool.abortAll();
    assert.ok(await within(waiting) instanceof Error, "a request waiting for its answer fails");
    assert.ok(await within(connecting) instanceof Error, "a request still connecting fails");
    assert.deepEqual(pool.openSockets, 0);
    for (const r of held) r();
  });
  await withServer(() => new Response("ok"), async (base, pool) => {
    pool.abortAll();
    assert.deepEqual(await (await pool.fetch(base, post("{}"))).text(), "ok");
  });
});

Deno.test("encodeJsonPost: one user agent, the caller's if it names one; bad header values refused", () => {
  const { encodeJsonPost, jsonPostPrefix } = wire;
  const prefix = jsonPostPrefix(new URL("http://127.0.0.1:9/mcp?x=1"), { "mcp-session-id": "s1" });
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const plain = text(encodeJsonPost(prefix, undefined, '{"a":"é"}', "Deno/x"));
  assert.equal(
    plain,
    "POST /mcp?x=1 HTTP/1.1\r\nhost: 127.0.0.1:9\r\ncontent-type: application/json\r\n" +
      "accept: application/json, text/event-stream\r\nmcp-session-id: s1\r\n" +
      'user-agent: Deno/x\r\ncontent-length: 10\r\n\r\n{"a":"é"}',
  );
  const own = text(
    encodeJsonPost(prefix, { "User-Agent": "custom/1", Accept: "x/y" }, "{}", "Deno/x"),
  );
  assert.equal(own.match(/user-agent/gi)?.length, 1);
  assert.match(own, /User-Agent: custom\/1\r\n/);
  assert.doesNotMatch(own, /x\/y/, "the MCP accept header is not replaced");
  assert.throws(() => encodeJsonPost(prefix, { authorization: "a\r\nx: y" }, "{}", "D"), /CR, LF/);
  assert.throws(() => encodeJsonPost(prefix, { "bad name": "v" }, "{}", "D"), /HTTP token/);
});
