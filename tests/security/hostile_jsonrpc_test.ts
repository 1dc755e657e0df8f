/**
 * Hostile JSON-RPC against the real proxy binary: deep nesting, an empty batch, wrong argument
 * types. Each gets a precise JSON-RPC error and the proxy keeps serving.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { initializeBody, proxyProcess, RawMcp } from "./helpers.ts";

/** `{"a":{"a":…{}…}}` nested `depth` levels. */
function nested(depth: number): unknown {
  let v: unknown = {};
  for (let i = 1; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
}

async function withProxy(fn: (url: string) => Promise<void>): Promise<void> {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxyProcess({ backends: [{ name: "web", url: web.url }] });
  try {
    await fn(p.url);
  } finally {
    await p.stop();
    await web.stop();
  }
}

Deno.test("a body nested deeper than 64 levels is refused with 400 / -32600 naming the limit, for initialize and on a session; 64 levels still work", async () => {
  await withProxy(async (url) => {
    const raw = new RawMcp(url);
    for (const depth of [4000, 65]) {
      const deep = await raw.post(initializeBody({ capabilities: nested(depth) }), {
        session: null,
      });
      assert.equal(deep.status, 400, `initialize nested ${depth}: ${deep.text.slice(0, 200)}`);
      assert.equal(deep.json?.error?.code, -32600);
      assert.match(deep.json!.error!.message, /64/);
    }
    // Depth 64 in total (capabilities sits at level 3): accepted.
    const ok = await raw.post(initializeBody({ capabilities: { x: nested(61) } }), {
      session: null,
    });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    // Strings that look like brackets do not count.
    const looksDeep = await raw.post(
      initializeBody({ clientInfo: { name: "[{".repeat(5000), version: "1" } }),
      { session: null },
    );
    assert.equal(looksDeep.status, 200, looksDeep.text.slice(0, 300));

    assert.equal((await raw.initialize()).status, 200);
    for (const method of ["tools/call", "tools/list", "ping", "notifications/cancelled"]) {
      const r = await raw.post({
        jsonrpc: "2.0",
        ...(method.startsWith("notifications/") ? {} : { id: 7 }),
        method,
        params: { name: "web_echo", arguments: { message: "x", deep: nested(4000) } },
      });
      assert.equal(r.status, 400, `${method}: ${r.text.slice(0, 200)}`);
      assert.equal(r.json?.error?.code, -32600);
    }
    const echo = await raw.request("tools/call", {
      name: "web_echo",
      arguments: { message: "still serving" },
    });
    assert.equal(echo.status, 200);
    assert.match(echo.text, /still serving/);
    await raw.close();
  });
});

Deno.test("an empty batch is an Invalid Request (-32600), with or without a session", async () => {
  await withProxy(async (url) => {
    const raw = new RawMcp(url);
    const without = await raw.post("[]", { session: null });
    assert.equal(without.status, 400);
    assert.equal(without.json?.error?.code, -32600);
    assert.equal((await raw.initialize()).status, 200);
    const empty = await raw.post("[]");
    assert.equal(empty.status, 400, empty.text);
    assert.equal(empty.json?.error?.code, -32600);
    assert.match(empty.json!.error!.message, /empty batch/i);
    assert.equal((await raw.request("ping")).status, 200);
    await raw.close();
  });
});

Deno.test("tools/call with arguments that are not an object answers -32602 naming params.arguments", async () => {
  await withProxy(async (url) => {
    const raw = new RawMcp(url);
    assert.equal((await raw.initialize()).status, 200);
    for (const args of ["a string", [1, 2], 42, null]) {
      const r = await raw.request("tools/call", { name: "web_echo", arguments: args });
      assert.equal(r.json?.error?.code, -32602, `arguments ${JSON.stringify(args)}: ${r.text}`);
      assert.match(r.json!.error!.message, /params\.arguments/);
      assert.match(r.json!.error!.message, /object/);
      assert.doesNotMatch(r.text, /invalid_type|"path"/, "no raw zod issue dump");
      assert.ok(r.status === 200 || r.status === 400);
    }
    const ok = await raw.request("tools/call", { name: "web_echo", arguments: { message: "m" } });
    assert.match(ok.text, /"m"/);
    await raw.close();
  });
});

Deno.test("a 3 MB composite tool argument is not echoed whole into the answer or the log", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxyProcess({
    backends: [{ name: "web", url: web.url }],
    compositeTools: [
      {
        name: "typed",
        description: "an integer parameter",
        parameters: { type: "object", properties: { n: { type: "integer" } } },
        steps: [{ id: "one", tool: "web_echo", arguments: { message: "{{.params.n}}" } }],
      },
      {
        name: "failing",
        description: "a step that fails with its argument",
        parameters: { type: "object", properties: { text: { type: "string" } } },
        steps: [{ id: "one", tool: "web_throw", arguments: { message: "{{.params.text}}" } }],
      },
    ],
  });
  const raw = new RawMcp(p.url);
  try {
    assert.equal((await raw.initialize()).status, 200);
    const big = "x".repeat(3 * 1024 * 1024);
    for (const [name, args] of [["typed", { n: big }], ["failing", { text: big }]] as const) {
      const r = await raw.request("tools/call", { name, arguments: args });
      assert.ok(r.status === 200, `${name}: HTTP ${r.status}`);
      assert.ok(r.text.length < 64 * 1024, `${name}: answer of ${r.text.length} bytes`);
      assert.match(r.text, /bytes truncated/, `${name}: ${r.text.slice(0, 500)}`);
    }
    const longest = Math.max(...p.stderr().split("\n").map((l) => l.length));
    assert.ok(longest < 64 * 1024, `a log line of ${longest} bytes`);
  } finally {
    await raw.close();
    await p.stop();
    await web.stop();
  }
});
