/**
 * `Mcp-Param-*` checks against the v2 SDK as the oracle: each header case goes through the SDK's
 * own `createMcpHandler` (a tool declaring `x-mcp-header`s) and through `checkParamHeaders`, and
 * the answers must agree (the same 400 / -32020 body, or both let the call through). Each schema
 * of the scan corpus is listed by the SDK, whose warning names the same fault `scanXMcpHeaders`
 * finds. `ModernTools` leaves invalid tools out of modern pages only, warning once.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { createLogger } from "../../core/log.ts";
import { createMcpHandlerV2, fromJsonSchemaV2, McpServerV2, type Tool } from "../../core/sdk.ts";
import { jsonTextOf, withJsonText } from "../preserialized.ts";
import { checkParamHeaders, ModernTools, scanXMcpHeaders } from "./param_check.ts";

const V = "2026-07-28";
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": V,
  "io.modelcontextprotocol/clientCapabilities": {},
};

const SCHEMA = {
  type: "object",
  properties: {
    region: { type: "string", "x-mcp-header": "Region" },
    count: { type: "integer", "x-mcp-header": "Count" },
    flag: { type: "boolean", "x-mcp-header": "Flag" },
    nested: {
      type: "object",
      properties: { inner: { type: "string", "x-mcp-header": "Inner" } },
    },
    plain: { type: "string" },
  },
};

function oracle(schemas: Record<string, unknown>) {
  return createMcpHandlerV2(() => {
    const s = new McpServerV2({ name: "oracle", version: "1.0.0" }, {
      capabilities: { tools: {} },
    });
    for (const [name, schema] of Object.entries(schemas)) {
      s.registerTool(
        name,
        { inputSchema: fromJsonSchemaV2(schema as never) },
        () => ({ content: [{ type: "text", text: "ok" }] }),
      );
    }
    return s;
  }, { legacy: "reject", keepAliveMs: 0, responseMode: "json" });
}

function call(tool: string, args: unknown, headers: Record<string, string>, id = 7): Request {
  return new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V,
      "mcp-method": "tools/call",
      "mcp-name": tool,
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name: tool, arguments: args, _meta: ENVELOPE },
    }),
  });
}

/** Name, arguments, `Mcp-Param-*` headers, whether the SDK refuses it (checked below too). */
type Case = [string, unknown, Record<string, string>, boolean];

const b64 = (s: string) =>
  `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode(s)))}?=`;
const region = (v: string) => ({ "mcp-param-region": v });

const CASES: Case[] = [
  ["equal header", { region: "eu" }, region("eu"), false],
  ["header name in any case", { region: "eu" }, { "MCP-PARAM-REGION": "eu" }, false],
  ["missing header", { region: "eu" }, {}, true],
  ["different header", { region: "eu" }, region("us"), true],
  ["valid Base64", { region: "Hello" }, region("=?base64?SGVsbG8=?="), false],
  ["non-ASCII value in Base64", { region: "日本" }, region(b64("日本")), false],
  ["Base64 without padding", { region: "Hello" }, region("=?base64?SGVsbG8?="), true],
  ["Base64 with bad characters", { region: "Hello" }, region("=?base64?SGVs!!!bG8=?="), true],
  [
    "no sentinel suffix: literal",
    { region: "=?base64?SGVsbG8=" },
    region("=?base64?SGVsbG8="),
    false,
  ],
  ["Base64 text without sentinel: literal", { region: "SGVsbG8=" }, region("SGVsbG8="), false],
  ["Base64 of another value", { region: "Hello" }, region(b64("Bye")), true],
  ["integer equal", { count: 42 }, { "mcp-param-count": "42" }, false],
  ["integer as 42.0", { count: 42 }, { "mcp-param-count": "42.0" }, false],
  ["integer different", { count: 42 }, { "mcp-param-count": "43" }, true],
  ["integer vs text", { count: 42 }, { "mcp-param-count": "forty-two" }, true],
  ["integer 0 missing", { count: 0 }, {}, true],
  ["boolean equal", { flag: true }, { "mcp-param-flag": "true" }, false],
  ["boolean in another case", { flag: false }, { "mcp-param-flag": "False" }, true],
  ["nested missing", { nested: { inner: "x" } }, {}, true],
  ["nested equal", { nested: { inner: "x" } }, { "mcp-param-inner": "x" }, false],
  ["null argument needs no header", { region: null }, {}, false],
  ["absent argument: a header is ignored", {}, region("eu"), false],
  ["no arguments", undefined, {}, false],
  ["undeclared argument needs none", { plain: "p" }, {}, false],
  [
    "the first failing declaration answers",
    { region: "eu", count: 1 },
    { "mcp-param-count": "1" },
    true,
  ],
];

Deno.test("checkParamHeaders() answers every header case as the v2 SDK's server does", async () => {
  const sdk = oracle({ t: SCHEMA });
  try {
    for (const [name, args, headers, refused] of CASES) {
      const expected = await sdk.fetch(call("t", args, headers));
      const expectedBody = await expected.json();
      const req = call("t", args, headers);
      const ours = checkParamHeaders(scanDeclarations(SCHEMA), args, req.headers, 7);
      if (refused) {
        strictEqual(expected.status, 400, `${name}: the SDK refuses it`);
        ok(ours, `${name}: refused`);
        strictEqual(ours.status, 400, name);
        deepStrictEqual(await ours.json(), expectedBody, name);
      } else {
        strictEqual(expected.status, 200, `${name}: the SDK serves it`);
        strictEqual(ours, undefined, name);
      }
    }
  } finally {
    await sdk.close();
  }
});

function scanDeclarations(schema: unknown) {
  const scan = scanXMcpHeaders(schema);
  ok(scan.declarations, JSON.stringify(scan));
  return scan.declarations;
}

/** Schemas with a broken or unusual `x-mcp-header`, each named by what it shows. */
const SCAN_CORPUS: Record<string, unknown> = {
  valid: SCHEMA,
  none: { type: "object", properties: { a: { type: "string" } } },
  on_root: { type: "object", "x-mcp-header": "Root", properties: {} },
  under_items: {
    type: "object",
    properties: { list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } } },
  },
  under_any_of: {
    type: "object",
    properties: { a: { anyOf: [{ type: "string", "x-mcp-header": "A" }] } },
  },
  under_defs: {
    type: "object",
    properties: { a: { type: "string" } },
    $defs: { d: { type: "string", "x-mcp-header": "D" } },
  },
  empty_name: { type: "object", properties: { a: { type: "string", "x-mcp-header": "" } } },
  not_a_token: {
    type: "object",
    properties: { a: { type: "string", "x-mcp-header": "Bad Name" } },
  },
  object_typed: { type: "object", properties: { a: { type: "object", "x-mcp-header": "Obj" } } },
  untyped: { type: "object", properties: { a: { "x-mcp-header": "Untyped" } } },
  number_typed: { type: "object", properties: { a: { type: "number", "x-mcp-header": "Num" } } },
  duplicate: {
    type: "object",
    properties: {
      a: { type: "string", "x-mcp-header": "Dup" },
      b: { type: "string", "x-mcp-header": "dup" },
    },
  },
};

Deno.test("scanXMcpHeaders() finds the fault the v2 SDK warns about, and only then", async () => {
  const warnings = new Map<string, string>();
  // The SDK reports an invalid declaration only through console.warn.
  const sink = globalThis.console;
  const warn = sink.warn;
  sink.warn = (msg: unknown) => {
    const m = String(msg).match(
      /^\[mcp-sdk\] tool '([^']+)' carries an invalid x-mcp-header declaration and will be excluded by conforming Streamable HTTP clients: (.*)$/s,
    );
    if (m) warnings.set(m[1]!, m[2]!);
  };
  const sdk = oracle(SCAN_CORPUS);
  try {
    const res = await sdk.fetch(
      new Request("http://127.0.0.1/mcp", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": V,
          "mcp-method": "tools/list",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/list",
          params: { _meta: ENVELOPE },
        }),
      }),
    );
    strictEqual(res.status, 200);
    const listed = (await res.json()).result.tools as Tool[];
    strictEqual(listed.length, Object.keys(SCAN_CORPUS).length);
    for (const tool of listed) {
      const scan = scanXMcpHeaders(tool.inputSchema);
      const sdkReason = warnings.get(tool.name);
      if (sdkReason === undefined) {
        strictEqual(scan.valid, true, `${tool.name}: ${JSON.stringify(scan)}`);
      } else deepStrictEqual(scan.valid ? "valid" : scan.reason, sdkReason, tool.name);
    }
    ok(
      warnings.size >= 9,
      `the corpus has invalid schemas the SDK warns about: ${[...warnings.keys()]}`,
    );
  } finally {
    sink.warn = warn;
    await sdk.close();
  }
});

Deno.test("scanXMcpHeaders() keeps number-typed declarations (invalid, yet checked)", () => {
  const scan = scanXMcpHeaders(SCAN_CORPUS.number_typed);
  strictEqual(scan.valid, false);
  deepStrictEqual(scan.declarations, [{ path: ["a"], headerName: "Num", type: "number" }]);
  const headers = new Headers({ "mcp-param-num": "1.50" });
  strictEqual(checkParamHeaders(scan.declarations!, { a: 1.5 }, headers, 1), undefined);
  strictEqual(checkParamHeaders(scan.declarations!, { a: 2 }, headers, 1)?.status, 400);
});

function tool(name: string, inputSchema: unknown): Tool {
  return { name, inputSchema } as Tool;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: "debug", sink: (l) => lines.push(JSON.parse(l)) });
  return { log, warnings: () => lines.filter((l) => l.level === "warn") };
}

Deno.test("ModernTools leaves a tool with an invalid x-mcp-header out of modern pages, warning once", () => {
  const { log, warnings } = capture();
  const tools = new ModernTools(log);
  const list = [
    tool("a_ok", SCHEMA),
    tool("b_bad", SCAN_CORPUS.object_typed),
    tool("c_plain", SCAN_CORPUS.none),
  ];
  const page = withJsonText({ tools: list }, JSON.stringify({ tools: list }));
  const modern = tools.page(list, page);
  deepStrictEqual((modern.tools as Tool[]).map((t) => t.name), ["a_ok", "c_plain"]);
  strictEqual(jsonTextOf(modern), JSON.stringify({ tools: [list[0], list[2]] }));
  strictEqual(page.tools, list, "the legacy page is untouched");
  strictEqual(warnings().length, 1);
  const w = warnings()[0]!;
  strictEqual(w.tool, "b_bad");
  ok(String(w.reason).includes("primitive-typed"), String(w.reason));
  // A new version of the list with the same invalid tool: no second warning.
  const next = [...list, tool("d_new", SCAN_CORPUS.none)];
  tools.page(next, withJsonText({ tools: next }, JSON.stringify({ tools: next })));
  strictEqual(warnings().length, 1);
});

Deno.test("ModernTools returns the same page when no tool is invalid", () => {
  const tools = new ModernTools(capture().log);
  const list = [tool("a", SCHEMA), tool("b", SCAN_CORPUS.none)];
  const page = withJsonText({ tools: list }, JSON.stringify({ tools: list }));
  strictEqual(tools.page(list, page), page);
});

Deno.test("ModernTools.check() refuses only calls of tools that declare headers", async () => {
  const tools = new ModernTools(capture().log);
  const list = [tool("headed", SCHEMA), tool("plain", SCAN_CORPUS.none)];
  const none = new Headers();
  const refused = tools.check(list, none, {
    id: 3,
    params: { name: "headed", arguments: { region: "eu" } },
  });
  strictEqual(refused?.status, 400);
  const body = await refused!.json();
  strictEqual(body.id, 3);
  strictEqual(body.error.code, -32020);
  deepStrictEqual(body.error.data.mismatch.header, "Mcp-Param-Region");
  strictEqual(
    tools.check(list, none, { id: 4, params: { name: "plain", arguments: { a: "x" } } }),
    undefined,
  );
  strictEqual(
    tools.check(list, none, { id: 5, params: { name: "unknown", arguments: {} } }),
    undefined,
  );
  strictEqual(
    tools.check(list, new Headers({ "mcp-param-region": "eu" }), {
      id: 6,
      params: { name: "headed", arguments: { region: "eu" } },
    }),
    undefined,
  );
});
