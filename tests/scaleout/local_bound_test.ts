/**
 * `sessionStorage.maxLocalSessions` through a real proxy (memory provider): past the bound the
 * least recently used idle session is closed locally and restored from the store on its next
 * request; a session with an open GET stream is never closed for it.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/mod.ts";
import { config, proxy } from "../proxy/helpers.ts";

const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

async function open(url: string): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "bound", version: "1" },
      },
    }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 200);
  const id = res.headers.get("mcp-session-id")!;
  const done = await fetch(url, {
    method: "POST",
    headers: { ...HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await done.body?.cancel();
  return id;
}

async function listTools(url: string, id: string): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  });
  await res.body?.cancel();
  return res.status;
}

async function store(url: string) {
  const res = await fetch(new URL("/status", url));
  return (await res.json()).sessionStore as {
    provider: string;
    local: number;
    maxLocal: number;
    evicted: number;
    restored: number;
  };
}

Deno.test({
  name:
    "past maxLocalSessions the least recently used idle session is closed locally and restored on its next request, while a session holding a GET stream is never evicted",
  async fn() {
    const backend = await serveHttpBackend({ name: "b" });
    const p = await proxy(config({
      sessionStorage: { maxLocalSessions: 2 },
      backends: [{ name: "b", transport: "streamable-http", url: backend.url }],
    }));
    let stream: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      const [s1, s2] = [await open(p.url), await open(p.url)];
      const first = await store(p.url);
      assert.equal(first.provider, "memory");
      assert.equal(first.local, 2);
      assert.equal(first.maxLocal, 2);
      assert.equal(first.evicted, 0);
      const s3 = await open(p.url); // s1 is the least recently used and idle: closed here
      let st = await store(p.url);
      assert.equal(st.local, 2);
      assert.equal(st.evicted, 1);
      assert.equal(p.runtime.sessions.has(s1), false, "s1's transport and server are gone");
      assert.equal(await listTools(p.url, s1), 200, "s1 is restored from the store");
      st = await store(p.url);
      assert.equal(st.restored, 1);
      assert.equal(st.evicted, 2, "s2 made room for it");
      assert.equal(await listTools(p.url, s2), 200);

      // s3 holds its GET stream open: never a victim, however old.
      const get = await fetch(p.url, {
        headers: {
          accept: "text/event-stream",
          "mcp-session-id": s3,
          "mcp-protocol-version": "2025-06-18",
        },
      });
      assert.equal(get.status, 200);
      stream = get.body!.getReader();
      const evicted = (await store(p.url)).evicted;
      for (let i = 0; i < 3; i++) await open(p.url);
      assert.ok(p.runtime.sessions.has(s3), "s3 is still live here");
      assert.equal((await store(p.url)).evicted, evicted + 3, "the others made room");
      // The stream stays open (it first carries the list_changed reminders of a restored
      // session: s2's restore had made s3 the idle victim, and the GET restored it).
      let received = "";
      let state = "";
      let timer: ReturnType<typeof setTimeout> | undefined;
      const read = async (quietMs: number) => {
        const next = await Promise.race([
          stream!.read(),
          new Promise<"quiet">((r) => (timer = setTimeout(() => r("quiet"), quietMs))),
        ]);
        clearTimeout(timer);
        return next;
      };
      // First the reminders (generously: a busy machine may be slow to send them) ...
      while (!state && !/notifications\/tools\/list_changed/.test(received)) {
        const next = await read(30_000);
        if (next === "quiet") state = "no list_changed within 30 s";
        else if (next.done) state = "closed";
        else received += new TextDecoder().decode(next.value);
      }
      // ... then the stream stays open: quiet, not ended.
      while (!state) {
        const next = await read(300);
        if (next === "quiet") state = "open";
        else if (next.done) state = "closed";
        else received += new TextDecoder().decode(next.value);
      }
      assert.equal(state, "open", "s3's GET stream is still open");
      assert.match(received, /notifications\/tools\/list_changed/);
      assert.equal((await store(p.url)).local, 2);
      assert.equal(await listTools(p.url, s3), 200);
    } finally {
      await stream?.cancel().catch(() => {});
      await p.stop();
      await backend.stop();
    }
  },
});
