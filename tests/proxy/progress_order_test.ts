/**
 * Issue #17 item 2: every progress notification a backend sends before its response reaches the
 * client, in order, before the response. server-everything's `trigger-long-running-operation`
 * sends its last progress notification right before its result (often in one read); vmcp used to
 * drop it about every other call (the v1 SDK client deletes the progress handler when the response
 * arrives, but runs notification handlers a microtask later).
 *
 * Observed on the wire: the legacy v1 SDK client's transport messages (not its `onprogress`,
 * which has the same flaw on the client side) and the raw SSE answer of a 2026-07-28 request;
 * behind vmcp, server-everything over stdio and over Streamable HTTP. 50 calls each.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import type { JSONRPCMessage } from "../../core/sdk.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { config, connect, post, proxy } from "./helpers.ts";

const RUNS = 50;
const TOOL = "every_trigger-long-running-operation";
/** Two steps of 10 ms: the second progress notification and the result leave back to back. */
const ARGS = { duration: 0.02, steps: 2 };
const V = "2026-07-28";

type Msg = Record<string, unknown>;
type BackendConfigInput = NonNullable<VmcpConfigInput["backends"]>[number];

/** What the client saw of call `id` with progress `token`: "p<progress>" and "result", in order. */
function trace(messages: Msg[], id: unknown, token: unknown): string[] {
  const out: string[] = [];
  for (const m of messages) {
    const params = m.params as Msg | undefined;
    if (m.method === "notifications/progress" && params?.progressToken === token) {
      out.push(`p${params?.progress}`);
    } else if (m.id === id && ("result" in m || "error" in m)) {
      out.push("error" in m ? `error ${JSON.stringify(m.error)}` : "result");
    }
  }
  return out;
}

/** The JSON-RPC messages of an SSE body, in order. */
function sseMessages(text: string): Msg[] {
  return text.split("\n\n")
    .map((e) => e.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join(""))
    .filter((d) => d !== "")
    .map((d) => JSON.parse(d));
}

/** 50 calls through a legacy (2025-era, session) v1 SDK client, its wire messages recorded. */
async function legacyCalls(url: string): Promise<void> {
  const c = await connect(url);
  const seen: Msg[] = [];
  const inner = c.transport.onmessage!;
  c.transport.onmessage = (m: JSONRPCMessage, extra?: unknown) => {
    seen.push(m as Msg);
    (inner as (m: JSONRPCMessage, e?: unknown) => void)(m, extra);
  };
  let sentId: unknown;
  const send = c.transport.send.bind(c.transport);
  c.transport.send = (m, opts) => {
    if ("method" in m && m.method === "tools/call" && "id" in m) sentId = m.id;
    return send(m, opts);
  };
  c.client.onerror = () => {}; // its own "unknown progress token" complaints: not under test
  try {
    for (let i = 0; i < RUNS; i++) {
      const token = `legacy-${i}`;
      seen.length = 0;
      const r = await c.client.callTool({
        name: TOOL,
        arguments: ARGS,
        _meta: { progressToken: token },
      });
      assert.match(JSON.stringify(r.content), /Long running operation completed/);
      assert.deepEqual(trace(seen, sentId, token), ["p1", "p2", "result"], `legacy call ${i}`);
    }
  } finally {
    await c.close();
  }
}

/** 50 raw 2026-07-28 requests with a progress token; each SSE answer read whole. */
async function modernCalls(url: string): Promise<void> {
  for (let i = 0; i < RUNS; i++) {
    const token = `modern-${i}`;
    const id = 1000 + i;
    const body = {
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: {
        name: TOOL,
        arguments: ARGS,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": V,
          "io.modelcontextprotocol/clientCapabilities": {},
          progressToken: token,
        },
      },
    };
    const r = await post(url, JSON.stringify(body), {
      "mcp-protocol-version": V,
      "mcp-method": "tools/call",
      "mcp-name": TOOL,
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get("content-type") ?? "", /text\/event-stream/);
    assert.deepEqual(trace(sseMessages(r.text), id, token), ["p1", "p2", "result"], `call ${i}`);
  }
}

async function behindVmcp(backend: BackendConfigInput, run: (url: string) => Promise<void>) {
  const p = await proxy(config({
    operational: { timeouts: { default: "60s" } },
    backends: [backend],
  }));
  try {
    await run(p.url);
  } finally {
    await p.stop();
  }
}

function stdioBackend(): BackendConfigInput {
  const e = everythingServerCommand();
  return {
    name: "every",
    transport: "stdio",
    command: e.command,
    args: e.args,
    env: e.env,
    cwd: e.cwd,
  };
}

Deno.test("progress: a legacy v1 client gets every progress of a stdio backend, then the result", async () => {
  await behindVmcp(stdioBackend(), legacyCalls);
});

Deno.test("progress: a 2026-07-28 client gets every progress of a stdio backend, then the result", async () => {
  await behindVmcp(stdioBackend(), modernCalls);
});

Deno.test("progress: a legacy v1 client gets every progress of an HTTP backend, then the result", async () => {
  const every = await startEverythingHttp();
  try {
    await behindVmcp({ name: "every", url: every.url }, legacyCalls);
  } finally {
    await every.stop();
  }
});

Deno.test("progress: a 2026-07-28 client gets every progress of an HTTP backend, then the result", async () => {
  const every = await startEverythingHttp();
  try {
    await behindVmcp({ name: "every", url: every.url }, modernCalls);
  } finally {
    await every.stop();
  }
});
