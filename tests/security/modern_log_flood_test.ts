/**
 * Log lines a hostile MCP 2026-07-28 client can make vmcp write at will are rate limited (ADR
 * 0010 §7.5, core/log.ts `warnAtMostEvery`), through a real proxy in front of server-everything:
 * replaying a used `requestState`, opening listen streams past the per-identity limit, and
 * naming resource URIs nobody serves in a listen filter each produce at most one warn line per
 * minute however often the client repeats them (the rest go to debug).
 */
import assert from "node:assert/strict";
import { captureLog } from "../auth/helpers.ts";
import { post, waitFor } from "../proxy/helpers.ts";
import {
  ELICIT,
  everythingBehindVmcp,
  inputRequired,
  INVALID_STATE,
  modernCall,
  V,
} from "../proxy/mrtr_helpers.ts";

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

function warnings(lines: string[], msg: string): number {
  return lines.map((l) => JSON.parse(l) as { level: string; msg: string })
    .filter((l) => l.level === "warn" && l.msg === msg).length;
}

let nextId = 1;
function listen(url: string, notifications: Record<string, unknown>): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V,
      "mcp-method": "subscriptions/listen",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: `l${nextId++}`,
      method: "subscriptions/listen",
      params: { _meta: { [PV]: V, [CAPS]: {} }, notifications },
    }),
  });
}

Deno.test("hostile modern client: replaying a used requestState logs one warning, not one per replay", async () => {
  const cap = captureLog();
  const p = await everythingBehindVmcp({}, { log: cap.log });
  try {
    const first = inputRequired(
      await modernCall(p.url, "tools/call", { name: ELICIT, arguments: {} }),
    );
    const retry = { name: ELICIT, arguments: {}, requestState: first.requestState };
    const done = await modernCall(p.url, "tools/call", {
      ...retry,
      inputResponses: { v1: { action: "accept", content: { name: "A" } } },
    });
    assert.equal(done.result?.resultType, "complete", JSON.stringify(done));
    for (let i = 0; i < 20; i++) {
      const replay = await modernCall(p.url, "tools/call", {
        ...retry,
        inputResponses: { v1: { action: "decline" } },
      });
      assert.equal(replay.status, 200);
      assert.equal((replay.error as { code: number }).code, INVALID_STATE.code);
    }
    assert.ok(
      warnings(cap.lines, "requestState refused") <= 1,
      `${warnings(cap.lines, "requestState refused")} warn lines for 20 replays`,
    );
  } finally {
    await p.stop();
  }
});

Deno.test("hostile modern client: listen streams past the limit and unknown resource URIs log one warning each", async () => {
  const cap = captureLog();
  const p = await everythingBehindVmcp({}, { log: cap.log });
  const open: Response[] = [];
  try {
    // 16 streams per identity (anonymous callers are one identity), then refusals.
    for (let i = 0; i < 16; i++) {
      const r = await listen(p.url, { toolsListChanged: true });
      assert.equal(r.status, 200);
      open.push(r);
    }
    for (let i = 0; i < 10; i++) {
      const r = await listen(p.url, { toolsListChanged: true });
      const json = await r.json();
      assert.equal(json.error?.message, "Subscription limit reached", JSON.stringify(json));
    }
    assert.ok(
      warnings(cap.lines, "refused a listen stream: subscription limit reached") <= 1,
      "one warning for ten refused listen streams",
    );
    for (const r of open.splice(0)) await r.body?.cancel();
    await waitFor(() => p.runtime.listenHub.size === 0, undefined, "listen streams closed");

    // 200 URIs no backend serves, in one filter: each is refused, one warning in all.
    const uris = Array.from({ length: 200 }, (_, i) => `nowhere://x/${i}`);
    const r = await listen(p.url, { resourceSubscriptions: uris });
    assert.equal(r.status, 200);
    const text = await r.text(); // acknowledged with no URI, then ended
    assert.match(text, /notifications\/subscriptions\/acknowledged/);
    assert.ok(
      warnings(cap.lines, "resource subscription refused by the backend side") <= 1,
      `${warnings(cap.lines, "resource subscription refused by the backend side")} warn lines`,
    );
    // The proxy still serves.
    const ok = await post(
      p.url,
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/list",
        params: { _meta: { [PV]: V, [CAPS]: {} } },
      }),
      { "mcp-protocol-version": V, "mcp-method": "tools/list" },
    );
    assert.equal(ok.status, 200);
  } finally {
    for (const r of open) await r.body?.cancel();
    await p.stop();
  }
});

Deno.test("hostile modern client: backend requests that cannot be attributed log one warning, not one per call", async () => {
  const cap = captureLog();
  const p = await everythingBehindVmcp({}, { log: cap.log });
  try {
    // One call parked (in flight on the backend), then more calls that ask the client too:
    // with two calls in flight the backend's request belongs to no single one and is refused.
    inputRequired(await modernCall(p.url, "tools/call", { name: ELICIT, arguments: {} }));
    for (let i = 0; i < 10; i++) {
      const r = await modernCall(p.url, "tools/call", { name: ELICIT, arguments: {} });
      assert.equal(r.status, 200);
      assert.notEqual(r.result?.resultType, "input_required", JSON.stringify(r));
    }
    const msg = "backend request refused: no single client session it belongs to";
    assert.ok(warnings(cap.lines, msg) <= 1, `${warnings(cap.lines, msg)} warn lines`);
  } finally {
    await p.stop();
  }
});

Deno.test("hostile client: requests from a browser origin that is not allowed log one warning, not one per request", async () => {
  const cap = captureLog();
  const p = await everythingBehindVmcp({}, { log: cap.log });
  try {
    for (let i = 0; i < 20; i++) {
      const r = await fetch(p.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          origin: `https://evil-${i}.example`,
          "mcp-protocol-version": V,
          "mcp-method": "tools/list",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/list",
          params: { _meta: { [PV]: V, [CAPS]: {} } },
        }),
      });
      assert.equal(r.status, 403);
      await r.body?.cancel();
    }
    const msg = "refused a request from a browser origin that is not allowed";
    assert.ok(warnings(cap.lines, msg) <= 1, `${warnings(cap.lines, msg)} warn lines`);
  } finally {
    await p.stop();
  }
});
