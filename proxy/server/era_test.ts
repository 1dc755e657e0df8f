/**
 * The ladder corpus: every cell goes through `classifyEra` (the lean path), through its slow
 * path, and through the v2 SDK's own `createMcpHandler` (`legacy: "reject"`, the oracle), and
 * the answers must agree: the same status, JSON-RPC code, message, `data` and id for a refusal;
 * a modern request the SDK serves (200, 202, or 404 -32601 for a method it does not define) is
 * one vmcp accepts; a legacy request is one the SDK classifies as legacy.
 */
import { deepStrictEqual, strictEqual } from "node:assert";
import { z } from "zod";
import { classifyInboundRequestV2, createMcpHandlerV2, McpServerV2 } from "../../core/sdk.ts";
import {
  classifyEra,
  decodeMcpName,
  type EraOutcome,
  MAX_ENVELOPE_CHARS,
  slowPath,
} from "./era.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const INFO = "io.modelcontextprotocol/clientInfo";
const LOG = "io.modelcontextprotocol/logLevel";
const URL_ = "http://127.0.0.1/mcp";

function oracle() {
  return createMcpHandlerV2(() => {
    const s = new McpServerV2({ name: "oracle", version: "1.0.0" }, {
      capabilities: { tools: {}, prompts: {}, resources: {} },
    });
    s.registerTool(
      "echo",
      { inputSchema: { message: z.string() } },
      ({ message }) => ({ content: [{ type: "text", text: message }] }),
    );
    s.registerPrompt("greet", { argsSchema: { who: z.string() } }, ({ who }) => ({
      messages: [{ role: "user", content: { type: "text", text: who } }],
    }));
    s.registerResource("a", "file:///a", {}, (u) => ({ contents: [{ uri: u.href, text: "a" }] }));
    return s;
  }, { legacy: "reject", keepAliveMs: 0, responseMode: "json" });
}

interface Cell {
  name: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const env = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  [PV]: V,
  [CAPS]: {},
  [INFO]: { name: "t", version: "1" },
  ...extra,
});
const req = (
  method: string,
  params: Record<string, unknown> = {},
  meta: Record<string, unknown> = env(),
  id: unknown = 1,
) => ({
  jsonrpc: "2.0",
  id,
  method,
  params: { ...params, _meta: meta },
});
const h = (method: string, name?: string, version = V) => ({
  "content-type": "application/json",
  "mcp-protocol-version": version,
  "mcp-method": method,
  ...(name !== undefined ? { "mcp-name": name } : {}),
});
const b64 = (s: string) =>
  `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode(s)))}?=`;

const CELLS: Cell[] = [
  { name: "discover", headers: h("server/discover"), body: req("server/discover") },
  { name: "tools/list", headers: h("tools/list"), body: req("tools/list") },
  {
    name: "tools/call",
    headers: h("tools/call", "echo"),
    body: req("tools/call", { name: "echo", arguments: { message: "x" } }),
  },
  {
    name: "tools/call base64 name",
    headers: h("tools/call", b64("ünï")),
    body: req("tools/call", { name: "ünï", arguments: {} }),
  },
  {
    name: "tools/call base64 of a plain name",
    headers: h("tools/call", b64("echo")),
    body: req("tools/call", { name: "echo", arguments: { message: "x" } }),
  },
  {
    name: "Mcp-Name mismatch",
    headers: h("tools/call", "other"),
    body: req("tools/call", { name: "echo", arguments: { message: "x" } }),
  },
  {
    name: "Mcp-Name missing",
    headers: h("tools/call"),
    body: req("tools/call", { name: "echo", arguments: { message: "x" } }),
  },
  {
    name: "Mcp-Name bad base64",
    headers: h("tools/call", "=?base64?***?="),
    body: req("tools/call", { name: "echo", arguments: { message: "x" } }),
  },
  {
    name: "resources/read",
    headers: h("resources/read", "file:///a"),
    body: req("resources/read", { uri: "file:///a" }),
  },
  {
    name: "resources/read uri mismatch",
    headers: h("resources/read", "file:///b"),
    body: req("resources/read", { uri: "file:///a" }),
  },
  {
    name: "prompts/get",
    headers: h("prompts/get", "greet"),
    body: req("prompts/get", { name: "greet", arguments: { who: "x" } }),
  },
  {
    name: "unsupported version",
    headers: h("tools/list", undefined, "2099-01-01"),
    body: req("tools/list", {}, env({ [PV]: "2099-01-01" })),
  },
  {
    name: "legacy version in the claim",
    headers: h("tools/list", undefined, "2025-11-25"),
    body: req("tools/list", {}, env({ [PV]: "2025-11-25" })),
  },
  {
    name: "version header disagrees",
    headers: h("tools/list", undefined, "2025-11-25"),
    body: req("tools/list"),
  },
  {
    name: "version header missing",
    headers: { "content-type": "application/json", "mcp-method": "tools/list" },
    body: req("tools/list"),
  },
  {
    name: "method header missing",
    headers: { "content-type": "application/json", "mcp-protocol-version": V },
    body: req("tools/list"),
  },
  { name: "method header disagrees", headers: h("prompts/list"), body: req("tools/list") },
  {
    name: "capabilities missing",
    headers: h("tools/list"),
    body: req("tools/list", {}, { [PV]: V }),
  },
  {
    name: "capabilities not an object",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ [CAPS]: "all" })),
  },
  {
    name: "capabilities with a bad member",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ [CAPS]: { sampling: 5 } })),
  },
  {
    name: "capabilities with members",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ [CAPS]: { elicitation: { form: {} }, roots: {} } })),
  },
  {
    name: "clientInfo invalid",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ [INFO]: { name: 5 } })),
  },
  {
    name: "logLevel invalid",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ [LOG]: "loud" })),
  },
  {
    name: "logLevel",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ [LOG]: "info" })),
  },
  {
    name: "progressToken not a token",
    headers: h("tools/list"),
    body: req("tools/list", {}, env({ progressToken: { a: 1 } })),
  },
  {
    name: "modern header without a claim",
    headers: h("tools/list"),
    body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
  },
  {
    name: "initialize with a modern header",
    headers: h("initialize"),
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "c", version: "1" },
      },
    },
  },
  {
    name: "initialize with the envelope",
    headers: h("initialize"),
    body: req("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "c", version: "1" },
    }),
  },
  { name: "ping", headers: h("ping"), body: req("ping") },
  {
    name: "logging/setLevel",
    headers: h("logging/setLevel"),
    body: req("logging/setLevel", { level: "info" }),
  },
  { name: "string id", headers: h("tools/list"), body: req("tools/list", {}, env(), "abc") },
  {
    name: "batch with a modern element",
    headers: h("tools/list"),
    body: [req("tools/list")],
  },
  {
    name: "notification",
    headers: h("notifications/cancelled"),
    body: {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 1, _meta: { [PV]: V } },
    },
  },
  {
    name: "notification with an unsupported version",
    headers: h("notifications/cancelled", undefined, "2099-01-01"),
    body: {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 1, _meta: { [PV]: "2099-01-01" } },
    },
  },
  {
    name: "not JSON content",
    headers: { ...h("tools/list"), "content-type": "text/plain" },
    body: req("tools/list"),
  },
  {
    name: "claim in a body that is not JSON-RPC",
    headers: h("tools/list"),
    body: { id: 1, method: "tools/list", params: { _meta: env() } },
  },
  { name: "GET without a session", method: "GET", headers: { accept: "text/event-stream" } },
  { name: "DELETE without a session", method: "DELETE" },
];

const LEGACY_CELLS: Cell[] = [
  {
    name: "legacy initialize",
    headers: { "content-type": "application/json" },
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "c", version: "1" },
      },
    },
  },
  {
    name: "legacy request with its version header",
    headers: { "content-type": "application/json", "mcp-protocol-version": "2025-11-25" },
    body: { jsonrpc: "2.0", id: 2, method: "tools/list" },
  },
  {
    name: "legacy batch",
    headers: { "content-type": "application/json" },
    body: [{ jsonrpc: "2.0", id: 2, method: "tools/list" }],
  },
  {
    name: "legacy notification",
    headers: { "content-type": "application/json" },
    body: { jsonrpc: "2.0", method: "notifications/initialized" },
  },
  { name: "GET with a session", method: "GET", headers: { "mcp-session-id": "s" } },
  { name: "DELETE with a session", method: "DELETE", headers: { "mcp-session-id": "s" } },
];

function request(c: Cell): Request {
  const method = c.method ?? "POST";
  return new Request(URL_, {
    method,
    headers: { accept: "application/json, text/event-stream", ...c.headers },
    ...(method === "POST" ? { body: JSON.stringify(c.body) } : {}),
  });
}

interface Answer {
  status: number;
  allow?: string | null;
  body?: { id?: unknown; error?: { code: number; message: string; data?: unknown } };
}

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  return {
    status: res.status,
    allow: res.headers.get("allow"),
    ...(text ? { body: JSON.parse(text) } : {}),
  };
}

async function ours(outcome: EraOutcome): Promise<Answer | "modern" | "legacy"> {
  if (outcome.era === "refused") return await answerOf(outcome.response);
  return outcome.era;
}

function servedByOracle(a: Answer): boolean {
  if (a.status === 200 || a.status === 202) return true;
  return a.status === 404 && a.body?.error?.code === -32601;
}

Deno.test("era: every ladder cell gets the SDK's answer, on the lean and on the slow path", async () => {
  const sdk = oracle();
  try {
    for (const c of CELLS) {
      const expected = await answerOf(await sdk.fetch(request(c)));
      const slow = c.method && c.method !== "POST"
        ? classifyEra(request(c), undefined)
        : slowPath(request(c), c.body);
      const fast = classifyEra(request(c), c.body); // after the slow path primed its memo
      for (const [path, outcome] of [["slow", slow], ["fast", fast]] as const) {
        const got = await ours(outcome);
        if (servedByOracle(expected)) {
          strictEqual(got, "modern", `${c.name} (${path}): the SDK serves it (${expected.status})`);
        } else {
          deepStrictEqual(got, expected, `${c.name} (${path})`);
        }
      }
    }
  } finally {
    await sdk.close();
  }
});

Deno.test("era: legacy traffic stays legacy, as the SDK classifies it", () => {
  for (const c of LEGACY_CELLS) {
    const r = request(c);
    const sdk = classifyInboundRequestV2({
      httpMethod: c.method ?? "POST",
      ...(c.headers?.["mcp-protocol-version"]
        ? { protocolVersionHeader: c.headers["mcp-protocol-version"] }
        : {}),
      body: c.body,
    });
    strictEqual(sdk.kind, "legacy", c.name);
    strictEqual(classifyEra(r, c.body).era, "legacy", c.name);
  }
});

Deno.test("era: a modern request carries its id, method, params and envelope", () => {
  const body = req("tools/call", { name: "echo", arguments: { message: "x" } }, env(), "r1");
  const first = classifyEra(request({ name: "", headers: h("tools/call", "echo"), body }), body);
  const again = classifyEra(request({ name: "", headers: h("tools/call", "echo"), body }), body);
  for (const o of [first, again]) {
    if (o.era !== "modern" || o.kind !== "request") throw new Error(`not modern: ${o.era}`);
    strictEqual(o.id, "r1");
    strictEqual(o.method, "tools/call");
    strictEqual(o.params.name, "echo");
    strictEqual(o.meta[PV], V);
    strictEqual(o.capsText, "{}");
  }
});

Deno.test("era: Mcp-Name sentinels decode, invalid ones are refused", () => {
  strictEqual(decodeMcpName(b64("ünï")), "ünï");
  strictEqual(decodeMcpName("plain"), "plain");
  strictEqual(decodeMcpName("=?base64?***?="), undefined);
  strictEqual(decodeMcpName("=?base64?/w==?="), undefined); // not UTF-8
});

Deno.test("era: capabilities + clientInfo over the bound are refused naming the fields, on both paths", async () => {
  const big = { extensions: { "x.example/pad": { pad: "x".repeat(MAX_ENVELOPE_CHARS) } } };
  for (
    const meta of [
      env({ [CAPS]: big }),
      env({ [INFO]: { name: "x".repeat(MAX_ENVELOPE_CHARS), version: "1" } }),
    ]
  ) {
    const body = req("tools/list", {}, meta, 7);
    const outcome = classifyEra(request({ name: "", headers: h("tools/list"), body }), body);
    if (outcome.era !== "refused") throw new Error(`not refused: ${outcome.era}`);
    const a = await answerOf(outcome.response);
    strictEqual(a.status, 400);
    strictEqual(a.body?.error?.code, -32602);
    strictEqual(a.body?.id, 7);
    const message = a.body?.error?.message ?? "";
    if (!/clientCapabilities.*clientInfo.*at most 65536/.test(message)) {
      throw new Error(`message does not name the fields and the bound: ${message}`);
    }
  }
  // Just under the bound is served.
  const ok = req(
    "tools/list",
    {},
    env({ [CAPS]: { extensions: { "x.example/pad": { pad: "x".repeat(1000) } } } }),
  );
  strictEqual(
    classifyEra(request({ name: "", headers: h("tools/list"), body: ok }), ok).era,
    "modern",
  );
});
