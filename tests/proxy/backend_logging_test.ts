/**
 * Issue #17 item 5: backend log messages and log levels, behind vmcp, with the third-party
 * `@modelcontextprotocol/server-everything` (its `toggle-simulated-logging` tool sends a log
 * message at once and then one every 5 s, between calls) over stdio and Streamable HTTP.
 *
 * - A session's own backend connection (a per-session stdio process, an HTTP backend session):
 *   messages sent between calls reach that session, and no other session.
 * - A shared stdio process (ADR 0006): nothing says whose a message is, so it reaches nobody.
 * - `logging/setLevel` with a level that is not one: -32602 (it answered `{}` before), and the
 *   2026-07-28 equivalent (`io.modelcontextprotocol/logLevel` in `_meta`): 400 with -32602.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { createLogger } from "../../core/log.ts";
import { LoggingMessageNotificationSchema, McpError } from "../../core/sdk.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { config, connect, type Connected, PATIENCE_MS, post, proxy, waitFor } from "./helpers.ts";

type BackendConfigInput = NonNullable<VmcpConfigInput["backends"]>[number];
type Log = { level: string; data?: unknown };

const TOGGLE = "every_toggle-simulated-logging";

function stdioBackend(mode: "perSession" | "shared"): BackendConfigInput {
  return { name: "every", transport: "stdio", ...everythingServerCommand(), stdio: { mode } };
}

/** A client whose received log messages are recorded. */
async function logClient(url: string): Promise<Connected & { logs: Log[] }> {
  const c = await connect(url);
  const logs: Log[] = [];
  c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params as Log);
  });
  return Object.assign(c, { logs });
}

/**
 * Session A starts simulated logging; at least two messages must reach A after the call
 * returned (sent between calls), none may reach session B.
 */
async function betweenCalls(backend: BackendConfigInput): Promise<void> {
  const p = await proxy(config({ backends: [backend] }));
  const a = await logClient(p.url);
  const b = await logClient(p.url);
  try {
    await b.client.listTools(); // B is a live session too
    const r = await a.client.callTool({ name: TOGGLE, arguments: {} });
    assert.match(JSON.stringify(r.content), /Started simulated/);
    const after = a.logs.length;
    await waitFor(() => a.logs.length >= after + 2, undefined, "two log messages between calls");
    for (const l of a.logs) assert.match(String(l.data), /[Ll]evel[- ]message/);
    assert.deepEqual(b.logs, [], "session B got session A's backend log messages");
  } finally {
    await a.close();
    await b.close();
    await p.stop();
  }
}

Deno.test("backend logging: messages a per-session stdio process sends between calls reach its session only", async () => {
  await betweenCalls(stdioBackend("perSession"));
});

Deno.test("backend logging: messages an HTTP backend session sends between calls reach its session only", async () => {
  const every = await startEverythingHttp();
  try {
    await betweenCalls({ name: "every", url: every.url });
  } finally {
    await every.stop();
  }
});

Deno.test("backend logging: a shared stdio process's messages reach no session (nothing says whose they are)", async () => {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ level: "debug", sink: (l) => lines.push(JSON.parse(l)) });
  const p = await proxy(config({ backends: [stdioBackend("shared")] }), { log });
  const a = await logClient(p.url);
  const b = await logClient(p.url);
  try {
    await a.client.callTool({ name: TOGGLE, arguments: {} });
    // The first message (during the call) is dropped with a warning, later ones at debug.
    const dropped = () => lines.filter((l) => /backend log messages? dropped/.test(l.msg)).length;
    await waitFor(() => dropped() >= 2, undefined, "a second dropped log message");
    assert.deepEqual(a.logs, [], "a shared process's log message was delivered to A");
    assert.deepEqual(b.logs, [], "a shared process's log message was delivered to B");
  } finally {
    await a.close();
    await b.close();
    await p.stop();
  }
});

Deno.test("backend logging: logging/setLevel with a level that is not one is refused -32602 (both eras)", async () => {
  const every = await startEverythingHttp();
  const p = await proxy(config({ backends: [{ name: "every", url: every.url }] }));
  const c = await logClient(p.url);
  try {
    await c.client.setLoggingLevel("notice");
    for (const level of ["bogus", "ERROR", 3]) {
      const err = await c.client.setLoggingLevel(level as never).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(err instanceof McpError, `setLevel ${JSON.stringify(level)} was accepted`);
      assert.equal(err.code, -32602);
      assert.match(err.message, /level .* is not a logging level; expected one of debug, info/);
    }
    // The refused levels changed nothing: still "notice" (debug and info never arrive).
    const r = await c.client.callTool({ name: TOGGLE, arguments: {} });
    assert.match(JSON.stringify(r.content), /Started simulated/);
    await waitFor(() => c.logs.length >= 1, 2 * PATIENCE_MS, "a log message at notice or above");
    for (const l of c.logs) assert.ok(!["debug", "info"].includes(l.level), l.level);
    // 2026-07-28: the level rides each request's _meta.
    const m = await post(
      p.url,
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/list",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/logLevel": "bogus",
          },
        },
      }),
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
    );
    assert.equal(m.status, 400, m.text);
    assert.equal(m.json.error?.code, -32602);
    assert.match(m.json.error!.message, /logLevel/);
  } finally {
    await c.close();
    await p.stop();
    await every.stop();
  }
});
