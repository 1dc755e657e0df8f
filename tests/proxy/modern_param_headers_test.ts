/**
 * `Mcp-Param-*` headers at vmcp's front door (MCP 2026-07-28, SEP-2243; ADR 0010 section 2), as
 * raw HTTP exchanges with a running proxy in front of a legacy backend (v1 SDK, sessions) and a
 * modern one (v2 SDK, stateless): a `tools/call` of a tool that declares `x-mcp-header` is refused
 * with the SDK's 400 / -32020 answer when the header is missing, different or badly encoded, and
 * no backend runs it; an agreeing call runs, and the modern backend gets the header vmcp computed.
 * A tool with an invalid declaration is left out of modern `tools/list` and stays in legacy ones.
 * The official Python SDK client (which sends `Mcp-Param-*` itself) gets through the check.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../core/log.ts";
import { describeRun, runPythonClient } from "../harness/py_client.ts";
import { provisionPythonMcp } from "../harness/python.ts";
import { text } from "../fixtures/backend_tools.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { serveV2Backend } from "../fixtures/v2_backend.ts";
import { config, connect, post, proxy } from "./helpers.ts";

const V = "2026-07-28";
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": V,
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** The parts of an answer these tests read. */
interface Answer {
  result: { content: unknown; tools: { name: string }[] };
  error: { code: number; message: string; data: { mismatch: { header: string } } };
}

let nextId = 1;

/** One modern request with the standard headers plus `headers`. */
async function modern(
  url: string,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const id = nextId++;
  const body = { jsonrpc: "2.0", id, method, params: { ...params, _meta: ENVELOPE } };
  const name = params.name as string | undefined;
  const r = await post(url, JSON.stringify(body), {
    "mcp-protocol-version": V,
    "mcp-method": method,
    ...(name !== undefined ? { "mcp-name": name } : {}),
    ...headers,
  });
  return { ...r, id, body: r.json as Answer };
}

async function setup() {
  const web = await serveHttpBackend({
    name: "web",
    builtins: false,
    extraTools: [
      {
        name: "where",
        inputSchema: {
          type: "object",
          properties: {
            region: { type: "string", "x-mcp-header": "Region" },
            zone: { type: "integer", "x-mcp-header": "Zone" },
          },
        },
        handler: (args) => text(`where ${args.region}/${args.zone}`),
      },
      {
        name: "bad_header",
        inputSchema: {
          type: "object",
          properties: { filter: { type: "object", "x-mcp-header": "Filter" } },
        },
        handler: () => text("bad_header ran"),
      },
    ],
  });
  const v2 = await serveV2Backend({ name: "v2" });
  const warnings: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "warn",
    sink: (line) => {
      const l = JSON.parse(line);
      if (l.level === "warn") warnings.push(l);
    },
  });
  const p = await proxy(
    config({
      aggregation: { conflictResolution: "priority" },
      backends: [
        { name: "web", url: web.url, protocol: "legacy" },
        { name: "v2", url: v2.url, protocol: "modern" },
      ],
    }),
    { log },
  );
  return {
    web,
    v2,
    p,
    warnings,
    stop: async () => (await p.stop(), await web.stop(), await v2.stop()),
  };
}

Deno.test("modern: Mcp-Param-* headers that disagree with the arguments get 400 -32020 and reach no backend", async () => {
  const s = await setup();
  try {
    const where = { name: "where", arguments: { region: "eu", zone: 7 } };
    const missing = await modern(s.p.url, "tools/call", where, { "mcp-param-zone": "7" });
    assert.equal(missing.status, 400, missing.text);
    assert.deepEqual(missing.body, {
      jsonrpc: "2.0",
      id: missing.id,
      error: {
        code: -32020,
        message: "Bad Request: the request headers and body disagree: the body carries " +
          'region="eu" but the Mcp-Param-Region header is absent',
        data: {
          mismatch: {
            header: "Mcp-Param-Region",
            body: 'the body carries region="eu" but the Mcp-Param-Region header is absent',
          },
        },
      },
    });
    const different = await modern(s.p.url, "tools/call", where, {
      "mcp-param-region": "us",
      "mcp-param-zone": "7",
    });
    assert.equal(different.status, 400);
    assert.equal(different.body.error.code, -32020);
    assert.equal(different.body.error.data.mismatch.header, "Mcp-Param-Region");
    const badBase64 = await modern(s.p.url, "tools/call", where, {
      "mcp-param-region": "=?base64?ZXU?=",
      "mcp-param-zone": "7",
    });
    assert.equal(badBase64.status, 400);
    assert.match(badBase64.body.error.message, /invalid Base64 sentinel value/);
    const wrongZone = await modern(s.p.url, "tools/call", where, {
      "mcp-param-region": "eu",
      "mcp-param-zone": "8",
    });
    assert.equal(wrongZone.status, 400);
    assert.equal(wrongZone.body.error.data.mismatch.header, "Mcp-Param-Zone");
    assert.deepEqual(s.web.state.calls, [], "no refused call reached the backend");

    // Agreeing headers (Base64 sentinel, an integer as 7.0): the call runs.
    const ok = await modern(s.p.url, "tools/call", where, {
      "mcp-param-region": "=?base64?ZXU=?=",
      "mcp-param-zone": "7.0",
    });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body.result.content, [{ type: "text", text: "where eu/7" }]);
    assert.equal(s.web.state.calls.length, 1);

    // A modern backend's tool: refused at the door, or run with the header vmcp computed.
    const inRegion = { name: "in_region", arguments: { region: "ap" } };
    const seen = () => s.v2.recorded.filter((r) => r.method === "tools/call");
    const refused = await modern(s.p.url, "tools/call", inRegion, { "mcp-param-region": "eu" });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, -32020);
    assert.equal(seen().length, 0);
    const served = await modern(s.p.url, "tools/call", inRegion, { "mcp-param-region": "ap" });
    assert.equal(served.status, 200, served.text);
    assert.deepEqual(served.body.result.content, [{ type: "text", text: "in ap" }]);
    assert.equal(seen().length, 1);
    assert.equal(seen()[0]!.headers["mcp-param-region"], "ap");

    // A tool without declarations needs no header; legacy clients are not checked.
    const echo = await modern(s.p.url, "tools/call", { name: "echo", arguments: { message: "m" } });
    assert.equal(echo.status, 200, echo.text);
    const legacy = await connect(s.p.url);
    try {
      const r = await legacy.client.callTool({ name: "where", arguments: { region: "eu" } });
      assert.deepEqual(r.content, [{ type: "text", text: "where eu/undefined" }]);
    } finally {
      await legacy.close();
    }
  } finally {
    await s.stop();
  }
});

Deno.test("modern: a tool with an invalid x-mcp-header is left out of modern tools/list only, warned once", async () => {
  const s = await setup();
  try {
    const names = async () => {
      const r = await modern(s.p.url, "tools/list", {});
      assert.equal(r.status, 200, r.text);
      return r.body.result.tools.map((t) => t.name).sort();
    };
    const first = await names();
    assert.ok(first.includes("where") && first.includes("in_region"), first.join());
    assert.ok(!first.includes("bad_header"), first.join());
    assert.deepEqual(await names(), first);
    const legacy = await connect(s.p.url);
    try {
      const listed = (await legacy.client.listTools()).tools.map((t) => t.name);
      assert.ok(listed.includes("bad_header"), listed.join());
    } finally {
      await legacy.close();
    }
    const about = s.warnings.filter((w) => w.tool === "bad_header");
    assert.equal(about.length, 1, JSON.stringify(s.warnings));
    assert.match(String(about[0]!.reason), /filter: x-mcp-header is only permitted on primitive/);
  } finally {
    await s.stop();
  }
});

const py = await provisionPythonMcp();

Deno.test({
  name: "modern: the Python SDK client's own Mcp-Param-* headers (a Base64 sentinel for a " +
    "non-ASCII value) pass vmcp's check" + (py.ok ? "" : ` (ignored: ${py.reason.slice(0, 200)})`),
  ignore: !py.ok,
  async fn() {
    assert.ok(py.ok);
    const s = await setup();
    try {
      const run = await runPythonClient({
        python: py.python,
        url: s.p.url,
        calls: [
          { name: "where", arguments: { region: "日本", zone: 3 } },
          { name: "in_region", arguments: { region: "eu-west" } },
        ],
      });
      const why = describeRun(run);
      assert.equal(run.first("connected")?.era, "modern", why);
      assert.deepEqual(run.all("error"), [], why);
      const results = run.all("result").map((r) => JSON.stringify(r.result));
      assert.match(results[0] ?? "", /where 日本\/3/, why);
      assert.match(results[1] ?? "", /in eu-west/, why);
      const call = s.v2.recorded.find((r) => r.method === "tools/call");
      assert.equal(call?.headers["mcp-param-region"], "eu-west", why);
    } finally {
      await s.stop();
    }
  },
});
