import assert from "node:assert/strict";
import type { RawResponse } from "../../core/http1.ts";
import { ModernHttp, plainJson } from "./modern_http.ts";

const answer = (id: number) => ({ jsonrpc: "2.0", id, result: { ok: true } });

Deno.test("ModernHttp.post: raw over the pool; a 307 is sent again (within the origin) and answered", async () => {
  const seen: { path: string; method: string; mcp: string | null; body: string }[] = [];
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      seen.push({
        path,
        method: req.method,
        mcp: req.headers.get("mcp-method"),
        body: await req.text(),
      });
      if (path === "/old") {
        return new Response(null, { status: 307, headers: { location: "/mcp" } });
      }
      return Response.json(answer(1));
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const direct = new ModernHttp(`${base}/mcp`);
  const moved = new ModernHttp(`${base}/old`);
  try {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call" });
    const raw = await direct.post(
      { "mcp-method": "tools/call" },
      body,
      AbortSignal.timeout(30_000),
    );
    assert.ok(!(raw instanceof Response), "plain http: the raw path");
    assert.deepEqual(plainJson(raw as RawResponse, 1), answer(1));
    const res = await moved.post({ "mcp-method": "tools/call" }, body, AbortSignal.timeout(30_000));
    assert.ok(res instanceof Response);
    assert.deepEqual(await res.json(), answer(1));
    assert.deepEqual(seen.map((s) => [s.path, s.method, s.mcp, s.body]), [
      ["/mcp", "POST", "tools/call", body],
      ["/old", "POST", "tools/call", body], // raw: 307, not followed here
      ["/old", "POST", "tools/call", body], // through fetch, which follows it
      ["/mcp", "POST", "tools/call", body],
    ]);
  } finally {
    direct.close();
    moved.close();
    abort.abort();
    await server.finished;
  }
});

Deno.test("plainJson: only a whole 2xx JSON body answering this id", () => {
  const raw = (status: number, type: string, body: unknown): RawResponse => ({
    status,
    statusText: "",
    headers: [["Content-Type", type]],
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
  assert.deepEqual(plainJson(raw(200, "application/json; charset=utf-8", answer(3)), 3), answer(3));
  assert.equal(plainJson(raw(200, "application/json", answer(4)), 3), undefined, "other id");
  assert.equal(plainJson(raw(200, "text/event-stream", answer(3)), 3), undefined);
  assert.equal(plainJson(raw(400, "application/json", answer(3)), 3), undefined);
});
