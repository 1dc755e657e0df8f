/**
 * A backend that speaks only MCP 2026-07-28 (the v2 SDK's stateless handler) aggregated beside
 * server-everything (legacy, stdio), used from a 2025-11-25 client (ADR 0010, step 3).
 */
import assert from "node:assert/strict";
import {
  ClientV2,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  StreamableHTTPClientTransportV2,
  ToolListChangedNotificationSchema,
} from "../../core/sdk.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { serveV2Backend } from "../fixtures/v2_backend.ts";
import { config, connect, FAST_FAILOVER, hungServer, proxy, waitFor } from "./helpers.ts";

interface BackendStatus {
  status: string;
  routable: boolean;
  message?: string;
}

/** The backend's /status entry once it has a message. */
const messageOf = (url: string, name: string) =>
  waitFor(
    async () => {
      const st = await statusOf(url, name);
      return st.message ? st : undefined;
    },
    undefined,
    `a status message for ${name}`,
  ) as Promise<BackendStatus>;

const statusOf = async (url: string, name: string) => {
  const s = await (await fetch(url.replace(/\/mcp$/, "/status"))).json();
  return s.backends.find((b: { name: string }) => b.name === name) as BackendStatus;
};

Deno.test("a 2026-07-28-only backend beside server-everything: lists, calls, progress, prompt, resource, list changes, original names on the wire", async () => {
  const v2 = await serveV2Backend();
  const e = everythingServerCommand();
  const p = await proxy(config({
    operational: { timeouts: { default: "60s" } },
    backends: [
      { name: "v2", url: v2.url },
      {
        name: "every",
        transport: "stdio",
        command: e.command,
        args: e.args,
        env: e.env,
        cwd: e.cwd,
      },
    ],
  }));
  const caps = { capabilities: { elicitation: {}, roots: { listChanged: true } } };
  const c = await connect(p.url, caps);
  let changed = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
  const logs: unknown[] = [];
  c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params.data);
  });
  try {
    const tools = (await c.client.listTools()).tools;
    const names = tools.map((t) => t.name);
    for (const n of ["v2_echo", "v2_progress", "every_echo"]) {
      assert.ok(names.includes(n), `${n} in ${names}`);
    }
    assert.equal(tools.find((t) => t.name === "v2_echo")?.annotations?.readOnlyHint, true);

    const a = await c.client.callTool({ name: "v2_echo", arguments: { message: "modern" } });
    assert.deepEqual(a.content, [{ type: "text", text: "modern" }]);
    const b = await c.client.callTool({ name: "every_echo", arguments: { message: "legacy" } });
    assert.match(JSON.stringify(b.content), /legacy/);

    // What the v2 backend saw of the call: its own tool name, the modern headers, the caller's
    // capabilities in the envelope and vmcp's clientInfo.
    const seen = v2.recorded.filter((r) => r.method === "tools/call").at(-1)!;
    assert.equal(seen.headers["mcp-name"], "echo");
    assert.equal(seen.headers["mcp-method"], "tools/call");
    assert.equal(seen.headers["mcp-protocol-version"], "2026-07-28");
    assert.equal(seen.headers["mcp-session-id"], undefined);
    assert.equal(seen.meta?.["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
    // (The 2025 SDK server normalizes `elicitation: {}` to form mode.)
    assert.deepEqual(seen.meta?.["io.modelcontextprotocol/clientCapabilities"], {
      elicitation: { form: {} },
      roots: { listChanged: true },
    });
    assert.deepEqual(seen.meta?.["io.modelcontextprotocol/clientInfo"], {
      name: "vmcp",
      version: "1.0.0",
    });
    assert.ok(!v2.recorded.some((r) => r.method === "initialize"), "no initialize was sent");

    // An x-mcp-header argument travels as Mcp-Param-* too, computed by vmcp.
    const region = await c.client.callTool({ name: "v2_in_region", arguments: { region: "eu" } });
    assert.deepEqual(region.content, [{ type: "text", text: "in eu" }]);
    const regionCall = v2.recorded.filter((r) => r.method === "tools/call").at(-1)!;
    assert.equal(regionCall.headers["mcp-name"], "in_region");
    assert.equal(regionCall.headers["mcp-param-region"], "eu");

    const progress: number[] = [];
    const r = await c.client.callTool(
      { name: "v2_progress", arguments: { steps: 3 } },
      undefined,
      { onprogress: (x) => void progress.push(x.progress) },
    );
    assert.deepEqual(r.content, [{ type: "text", text: "done after 3" }]);
    assert.deepEqual(progress, [1, 2, 3]);

    // A log message on the call's answer stream reaches the caller (at its level).
    await c.client.setLoggingLevel("info");
    const logged = await c.client.callTool({ name: "v2_log", arguments: { text: "from v2" } });
    assert.deepEqual(logged.content, [{ type: "text", text: "logged" }]);
    await waitFor(() => logs.includes("from v2"), undefined, "the log message at the client");
    assert.equal(
      v2.recorded.filter((x) => x.method === "tools/call").at(-1)?.meta?.[
        "io.modelcontextprotocol/logLevel"
      ],
      "info",
    );

    const prompts = (await c.client.listPrompts()).prompts.map((x) => x.name);
    const greet = prompts.find((n) => n.endsWith("greet"))!;
    assert.ok(greet, String(prompts));
    const got = await c.client.getPrompt({ name: greet, arguments: { who: "Ada" } });
    assert.match(JSON.stringify(got.messages), /Hello, Ada!/);
    assert.equal(
      v2.recorded.filter((x) => x.method === "prompts/get").at(-1)?.headers["mcp-name"],
      "greet",
    );
    const res = await c.client.readResource({ uri: "v2://readme" });
    assert.match(JSON.stringify(res.contents), /v2 readme/);

    // A tool-list change on the v2 backend reaches the client (backend listen stream).
    await c.client.callTool({ name: "v2_add_tool", arguments: { name: "fresh" } });
    await waitFor(() => changed > 0, undefined, "tools/list_changed at the client");
    await waitFor(
      async () => (await c.client.listTools()).tools.some((t) => t.name === "v2_fresh"),
      undefined,
      "v2_fresh listed",
    );
    const fresh = await c.client.callTool({ name: "v2_fresh", arguments: {} });
    assert.deepEqual(fresh.content, [{ type: "text", text: "fresh" }]);
  } finally {
    await c.close();
    await p.stop();
    await v2.stop();
  }
});

Deno.test("input_required from a 2026-07-28 backend: asked of the client, at most 10 rounds then -32603; a caller without the capability gets the backend's -32021", async () => {
  const v2 = await serveV2Backend();
  const p = await proxy(config({ backends: [{ name: "v2", url: v2.url }] }));
  const asking = await connect(p.url, { capabilities: { elicitation: {} } });
  const plain = await connect(p.url);
  let asked = 0;
  asking.client.setRequestHandler(ElicitRequestSchema, () => (asked++, { action: "accept" }));
  try {
    // The fixture's `confirm` asks again whatever it gets (answered rounds:
    // tests/proxy/mrtr_modern_backend_test.ts): the rounds are bounded.
    await assert.rejects(
      asking.client.callTool({ name: "v2_confirm", arguments: {} }),
      (e) =>
        e instanceof McpError && e.code === -32603 &&
        /still required input after 10 rounds/.test(e.message),
    );
    assert.equal(asked, 10);
    // The envelope carries the caller's capabilities, not vmcp's (which include elicitation).
    await assert.rejects(
      plain.client.callTool({ name: "v2_confirm", arguments: {} }),
      (e) => e instanceof McpError && e.code === -32021,
    );
  } finally {
    await asking.close();
    await plain.close();
    await p.stop();
    await v2.stop();
  }
});

Deno.test("protocol: legacy against a 2026-07-28-only backend: unavailable, with a reason in /status", async () => {
  const v2 = await serveV2Backend();
  const p = await proxy(config({
    operational: FAST_FAILOVER,
    backends: [{ name: "v2", url: v2.url, protocol: "legacy" }],
  }));
  try {
    const s = await messageOf(p.url, "v2");
    assert.notEqual(s.status, "healthy");
    assert.match(
      s.message!,
      /protocol is "legacy" but the backend refused initialize \(HTTP 400\); it may speak only MCP 2026-07-28: set protocol to auto or modern/,
    );
  } finally {
    await p.stop();
    await v2.stop();
  }
});

Deno.test("protocol: modern against a legacy backend: unavailable, with a reason in /status", async () => {
  const old = await serveHttpBackend({ name: "old" });
  const p = await proxy(config({
    operational: FAST_FAILOVER,
    backends: [{ name: "old", url: old.url, protocol: "modern" }],
  }));
  try {
    const s = await messageOf(p.url, "old");
    assert.notEqual(s.status, "healthy");
    assert.match(s.message!, /protocol is "modern" but the backend does not speak MCP 2026-07-28/);
  } finally {
    await p.stop();
    await old.stop();
  }
});

Deno.test("an era probe that times out is an outage: the backend is taken out, not taken for legacy", async () => {
  const hung = hungServer();
  const p = await proxy(config({
    operational: {
      ...FAST_FAILOVER,
      timeouts: { default: "30s", perWorkload: { hung: "300ms" } },
      failureHandling: { ...FAST_FAILOVER.failureHandling, unhealthyThreshold: 1 },
    },
    backends: [{ name: "hung", url: hung.url }],
  }));
  try {
    const s = await waitFor(
      async () => {
        const st = await statusOf(p.url, "hung");
        return st.routable === false ? st : undefined;
      },
      undefined,
      "hung to be taken out",
    ) as BackendStatus;
    assert.equal(s.status, "unavailable");
    assert.match(s.message!, /Backend "hung" timed out after 300 ms/);
  } finally {
    await p.stop();
    await hung.stop();
  }
});

Deno.test("a 2026-07-28 client through vmcp to a 2026-07-28 backend: the backend sees the client's capabilities and log level", async () => {
  const v2 = await serveV2Backend();
  const p = await proxy(config({ backends: [{ name: "v2", url: v2.url }] }));
  const client = new ClientV2({ name: "modern-both", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: { roots: {} },
  });
  try {
    await client.connect(new StreamableHTTPClientTransportV2(new URL(p.url)));
    assert.equal(client.getProtocolEra(), "modern");
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("v2_echo"), String(names));
    const progress: number[] = [];
    const r = await client.callTool({
      name: "v2_progress",
      arguments: { steps: 2 },
      _meta: { "io.modelcontextprotocol/logLevel": "debug" },
    }, {
      onprogress: (x) => void progress.push(x.progress),
    });
    assert.deepEqual(r.content, [{ type: "text", text: "done after 2" }]);
    assert.deepEqual(progress, [1, 2]);
    const seen = v2.recorded.filter((x) => x.method === "tools/call").at(-1)!;
    assert.equal(seen.headers["mcp-name"], "progress");
    assert.deepEqual(seen.meta?.["io.modelcontextprotocol/clientCapabilities"], { roots: {} });
    assert.equal(seen.meta?.["io.modelcontextprotocol/logLevel"], "debug");
  } finally {
    await client.close().catch(() => {});
    await p.stop();
    await v2.stop();
  }
});

Deno.test("after a 2026-07-28 backend restarts, its listen stream is opened again: a later tool-list change still reaches the client", async () => {
  let v2 = await serveV2Backend();
  const port = Number(new URL(v2.url).port);
  const p = await proxy(config({
    operational: FAST_FAILOVER,
    backends: [{ name: "v2", url: v2.url }],
  }));
  const c = await connect(p.url);
  let changed = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
  try {
    await v2.stop();
    await waitFor(async () => (await statusOf(p.url, "v2")).routable === false, undefined, "down");
    v2 = await serveV2Backend({ port });
    await waitFor(async () => (await statusOf(p.url, "v2")).routable, undefined, "back");
    await waitFor(
      async () => (await c.client.listTools()).tools.some((t) => t.name === "v2_echo"),
      undefined,
      "v2 tools listed again",
    );
    const before = changed;
    await c.client.callTool({ name: "v2_add_tool", arguments: { name: "later" } });
    await waitFor(
      async () =>
        changed > before &&
        (await c.client.listTools()).tools.some((t) => t.name === "v2_later"),
      undefined,
      "v2_later announced and listed",
    );
  } finally {
    await c.close();
    await p.stop();
    await v2.stop();
  }
});
