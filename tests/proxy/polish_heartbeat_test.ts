/**
 * GET stream heartbeat: a client's standalone GET SSE stream receives a `: ping` comment every
 * `server.heartbeatSeconds` (so idle connections through load balancers stay open), SDK
 * clients are unaffected, and 0 turns it off.
 */
import assert from "node:assert/strict";
import { ToolListChangedNotificationSchema } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, PATIENCE_MS, post, proxy, waitFor } from "./helpers.ts";

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw", version: "1" },
  },
});

/** Opens a raw session and its GET stream; returns a reader of the stream's text. */
async function rawStream(url: string) {
  const init = await post(url, INIT);
  const sid = init.headers.get("mcp-session-id")!;
  const headers = {
    "mcp-session-id": sid,
    "mcp-protocol-version": "2025-11-25",
  };
  await post(url, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }), headers);
  const ac = new AbortController();
  const res = await fetch(url, {
    headers: { ...headers, accept: "text/event-stream" },
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  return {
    sid,
    /** Drops the GET stream only (the session stays). */
    async cancelStream() {
      await reader.cancel().catch(() => {});
      ac.abort();
    },
    get text() {
      return text;
    },
    /** Reads until `pattern` matches the text so far, or `ms` passes (then returns false). */
    async readUntil(pattern: RegExp, ms: number): Promise<boolean> {
      const deadline = Date.now() + ms;
      while (!pattern.test(text)) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left))),
        ]);
        clearTimeout(timer);
        if (chunk === "timeout") return false;
        if (chunk.done) return pattern.test(text);
        text += chunk.value;
      }
      return true;
    },
    async close() {
      await reader.cancel().catch(() => {});
      ac.abort();
      await (await fetch(url, { method: "DELETE", headers })).body?.cancel();
    },
  };
}

Deno.test("an idle GET stream receives `: ping` comments at server.heartbeatSeconds; SDK clients keep working through them", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({
    server: { heartbeatSeconds: 0.1 },
    backends: [{ name: "web", url: web.url }],
  }));
  const raw = await rawStream(p.url);
  const sdk = await connect(p.url);
  try {
    // Three pings within 20 s: at the default (30 s) there would be none yet.
    assert.ok(await raw.readUntil(/(: ping\n\n[^]*){3}/, 20_000), `stream so far: ${raw.text}`);
    assert.match(raw.text, /^(: ping\n\n)+$/, "only well-formed SSE comments on an idle stream");

    // The SDK client's own GET stream carries pings too; notifications still arrive on it.
    await waitFor(
      () => [...p.runtime.sessions.values()].some((s) => s.transport.hasStandaloneStream),
      PATIENCE_MS,
      "the SDK client's GET stream",
    );
    let changed = 0;
    sdk.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await new Promise((r) => setTimeout(r, 350)); // several pings go by
    const other = await connect(p.url);
    await other.client.callTool({ name: "web_mutate_tools", arguments: { action: "add" } });
    await other.close();
    await waitFor(() => changed >= 1, PATIENCE_MS, "tools/list_changed on the GET stream");
    const names = (await sdk.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("web_dynamic_tool"), String(names));
    const r = await sdk.client.callTool({ name: "web_echo", arguments: { message: "alive" } });
    assert.deepEqual(r.structuredContent, { message: "alive", backend: "web" });
  } finally {
    await raw.close();
    await sdk.close();
    await p.stop();
    await web.stop();
  }
});

Deno.test("heartbeatSeconds 0 sends no pings; closing the stream frees the session's GET stream", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({
    server: { heartbeatSeconds: 0 },
    backends: [{ name: "web", url: web.url }],
  }));
  const raw = await rawStream(p.url);
  try {
    assert.equal(await raw.readUntil(/: ping/, 400), false, `stream: ${raw.text}`);
    await p.reload(config({
      server: { heartbeatSeconds: 0.05 },
      backends: [{ name: "web", url: web.url }],
    }));
    // The setting applies to streams opened after the reload.
    const second = await rawStream(p.url);
    assert.ok(await second.readUntil(/: ping\n\n/, PATIENCE_MS), `stream: ${second.text}`);
    const session = p.runtime.sessions.get(second.sid)!;
    assert.ok(session.transport.hasStandaloneStream);
    // The client going away reaches the session through the heartbeat wrapper.
    await second.cancelStream();
    await waitFor(
      () => !session.transport.hasStandaloneStream,
      PATIENCE_MS,
      "the GET stream released",
    );
    await second.close();
  } finally {
    await raw.close();
    await p.stop();
    await web.stop();
  }
});
