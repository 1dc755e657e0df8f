/**
 * Malformed MCP 2026-07-28 envelopes from a hostile client never crash vmcp or earn an HTTP 500
 * (ADR 0010 §1-2), through a real proxy in front of server-everything: wrong JSON types where
 * objects, strings or numbers belong (`_meta`, `params`, capabilities, clientInfo, log level,
 * progress token, name, uri, arguments, requestState, inputResponses, ids), method names that
 * are Object members, bad `=?base64?…?=` sentinels and header/body disagreements. Each gets a
 * JSON-RPC answer (4xx or an in-band error), and the proxy keeps serving.
 */
import assert from "node:assert/strict";
import { everythingBehindVmcp, V } from "../proxy/mrtr_helpers.ts";

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const INFO = "io.modelcontextprotocol/clientInfo";
const LEVEL = "io.modelcontextprotocol/logLevel";
const TOOL = "every_echo";

type Json = Record<string, unknown>;
const meta = (extra: Json = {}) => ({ [PV]: V, [CAPS]: {}, ...extra });

interface Case {
  what: string;
  body: unknown;
  headers?: Record<string, string>;
}

function call(what: string, params: unknown, headers: Record<string, string> = {}): Case {
  return {
    what,
    body: { jsonrpc: "2.0", id: 1, method: "tools/call", params },
    headers: { "mcp-method": "tools/call", "mcp-name": TOOL, ...headers },
  };
}

const big = "x".repeat(200_000);
const CASES: Case[] = [
  call("_meta a number", { name: TOOL, arguments: {}, _meta: 5 }),
  call("_meta an array", { name: TOOL, arguments: {}, _meta: [meta()] }),
  call("_meta a string", { name: TOOL, arguments: {}, _meta: "x" }),
  call("_meta null", { name: TOOL, arguments: {}, _meta: null }),
  call("version a number", { name: TOOL, arguments: {}, _meta: meta({ [PV]: 20260728 }) }),
  call("version an object", { name: TOOL, arguments: {}, _meta: meta({ [PV]: { v: V } }) }),
  call("version unknown", { name: TOOL, arguments: {}, _meta: meta({ [PV]: "9999-01-01" }) }),
  call("capabilities an array", { name: TOOL, arguments: {}, _meta: meta({ [CAPS]: [1] }) }),
  call("capabilities a string", { name: TOOL, arguments: {}, _meta: meta({ [CAPS]: "all" }) }),
  call("capabilities null", { name: TOOL, arguments: {}, _meta: meta({ [CAPS]: null }) }),
  call("elicitation a string", {
    name: TOOL,
    arguments: {},
    _meta: meta({ [CAPS]: { elicitation: "yes", sampling: 1, roots: [] } }),
  }),
  call("capabilities with __proto__", {
    name: TOOL,
    arguments: {},
    _meta: meta({ [CAPS]: JSON.parse('{"__proto__":{"x":1},"extensions":{"__proto__":1}}') }),
  }),
  call("clientInfo a number", { name: TOOL, arguments: {}, _meta: meta({ [INFO]: 3 }) }),
  call("clientInfo without name", { name: TOOL, arguments: {}, _meta: meta({ [INFO]: {} }) }),
  call("logLevel a number", { name: TOOL, arguments: {}, _meta: meta({ [LEVEL]: 3 }) }),
  call("logLevel unknown", { name: TOOL, arguments: {}, _meta: meta({ [LEVEL]: "loud" }) }),
  call("logLevel __proto__", { name: TOOL, arguments: {}, _meta: meta({ [LEVEL]: "__proto__" }) }),
  call("progressToken an object", {
    name: TOOL,
    arguments: {},
    _meta: meta({ progressToken: { a: 1 } }),
  }),
  call("progressToken a float", { name: TOOL, arguments: {}, _meta: meta({ progressToken: 1.5 }) }),
  call("progressToken huge", { name: TOOL, arguments: {}, _meta: meta({ progressToken: big }) }),
  call("params an array", [TOOL]),
  call("name a number", { name: 7, arguments: {}, _meta: meta() }, { "mcp-name": "7" }),
  call("name an object", { name: { a: 1 }, arguments: {}, _meta: meta() }),
  call("name missing", { arguments: {}, _meta: meta() }),
  call("name __proto__", { name: "__proto__", arguments: {}, _meta: meta() }, {
    "mcp-name": "__proto__",
  }),
  call("name constructor", { name: "constructor", arguments: {}, _meta: meta() }, {
    "mcp-name": "constructor",
  }),
  call("arguments an array", { name: TOOL, arguments: [1, 2], _meta: meta() }),
  call("arguments a string", { name: TOOL, arguments: "x", _meta: meta() }),
  call("arguments null", { name: TOOL, arguments: null, _meta: meta() }),
  call("requestState a number", { name: TOOL, arguments: {}, requestState: 5, _meta: meta() }),
  call("requestState an object", {
    name: TOOL,
    arguments: {},
    requestState: { kind: "park" },
    _meta: meta(),
  }),
  call("requestState garbage", {
    name: TOOL,
    arguments: {},
    requestState: "v1.....",
    _meta: meta(),
  }),
  call("requestState forged", {
    name: TOOL,
    arguments: {},
    requestState: `v1.00000000.${btoa('{"kind":"park"}')}.AAAA`,
    _meta: meta(),
  }),
  call("requestState huge", { name: TOOL, arguments: {}, requestState: big, _meta: meta() }),
  call("inputResponses an array", {
    name: TOOL,
    arguments: {},
    requestState: "v1.a.b.c",
    inputResponses: [1],
    _meta: meta(),
  }),
  call("Mcp-Name base64 garbage", { name: TOOL, arguments: {}, _meta: meta() }, {
    "mcp-name": "=?base64?!!!?=",
  }),
  call("Mcp-Name base64 not UTF-8", { name: TOOL, arguments: {}, _meta: meta() }, {
    "mcp-name": "=?base64?/w==?=",
  }),
  call("Mcp-Name base64 empty", { name: "", arguments: {}, _meta: meta() }, {
    "mcp-name": "=?base64??=",
  }),
  call("Mcp-Name disagrees", { name: TOOL, arguments: {}, _meta: meta() }, {
    "mcp-name": "every_other",
  }),
  call("Mcp-Method disagrees", { name: TOOL, arguments: {}, _meta: meta() }, {
    "mcp-method": "tools/list",
  }),
  call("MCP-Protocol-Version disagrees", { name: TOOL, arguments: {}, _meta: meta() }, {
    "mcp-protocol-version": "2025-11-25",
  }),
  call("Mcp-Param header on a tool without x-mcp-header", {
    name: TOOL,
    arguments: {},
    _meta: meta(),
  }, {
    "mcp-param-message": "x",
  }),
  ...["__proto__", "constructor", "toString", "hasOwnProperty", "tools/call/", ""].map((m) => ({
    what: `method ${JSON.stringify(m)}`,
    body: { jsonrpc: "2.0", id: 1, method: m, params: { _meta: meta() } },
    headers: { "mcp-method": m },
  })),
  ...[null, { a: 1 }, [1], 1.5, -1, big].map((id) => ({
    what: `id ${JSON.stringify(id).slice(0, 20)}`,
    body: { jsonrpc: "2.0", id, method: "tools/list", params: { _meta: meta() } },
    headers: { "mcp-method": "tools/list" },
  })),
  {
    what: "resources/read with a numeric uri",
    body: { jsonrpc: "2.0", id: 1, method: "resources/read", params: { uri: 5, _meta: meta() } },
    headers: { "mcp-method": "resources/read" },
  },
  {
    what: "resources/read with a huge uri",
    body: { jsonrpc: "2.0", id: 1, method: "resources/read", params: { uri: big, _meta: meta() } },
    headers: { "mcp-method": "resources/read" },
  },
  {
    what: "resources/read with a long uri in header and body",
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "resources/read",
      params: { uri: `demo://${"y".repeat(6000)}`, _meta: meta() },
    },
    headers: { "mcp-method": "resources/read", "mcp-name": `demo://${"y".repeat(6000)}` },
  },
  {
    what: "prompts/get with arguments an array",
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "prompts/get",
      params: { name: "every_simple-prompt", arguments: [1], _meta: meta() },
    },
    headers: { "mcp-method": "prompts/get", "mcp-name": "every_simple-prompt" },
  },
  {
    what: "completion/complete with ref a string",
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "completion/complete",
      params: { ref: "x", argument: 5, _meta: meta() },
    },
    headers: { "mcp-method": "completion/complete" },
  },
  {
    what: "tools/list with cursor an object",
    body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: { cursor: {}, _meta: meta() } },
    headers: { "mcp-method": "tools/list" },
  },
  ...[5, "x", [1], { toolsListChanged: "yes" }, { resourceSubscriptions: "a" }].map((n) => ({
    what: `listen notifications ${JSON.stringify(n)}`,
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "subscriptions/listen",
      params: { notifications: n, _meta: meta() },
    },
    headers: { "mcp-method": "subscriptions/listen" },
  })),
  {
    what: "a batch of modern requests",
    body: [{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: meta() } }],
    headers: { "mcp-method": "tools/list" },
  },
  {
    what: "modern header, legacy body",
    body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} },
    headers: { "mcp-method": "tools/list" },
  },
  {
    what: "a modern notification with params an array",
    body: { jsonrpc: "2.0", method: "notifications/cancelled", params: [1] },
    headers: { "mcp-method": "notifications/cancelled" },
  },
];

Deno.test("hostile modern client: malformed envelopes get JSON-RPC answers, never a 500", async () => {
  const p = await everythingBehindVmcp();
  try {
    const bad: string[] = [];
    for (const c of CASES) {
      const res = await fetch(p.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": V,
          ...c.headers,
        },
        body: JSON.stringify(c.body),
      });
      const text = await res.text();
      if (res.status >= 500) bad.push(`${c.what}: HTTP ${res.status} ${text.slice(0, 200)}`);
      else if (res.status !== 202 && !/"jsonrpc":"2\.0"/.test(text)) {
        bad.push(`${c.what}: HTTP ${res.status} not JSON-RPC: ${text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(bad, []);
    // Still serving.
    const ok = await fetch(p.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "mcp-protocol-version": V,
        "mcp-method": "tools/call",
        "mcp-name": TOOL,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: TOOL, arguments: { message: "still here" }, _meta: meta() },
      }),
    });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /still here/);
  } finally {
    await p.stop();
  }
});
