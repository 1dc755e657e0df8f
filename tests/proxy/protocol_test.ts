/**
 * Protocol features relayed end to end through the proxy, over a per-session HTTP backend
 * connection and over the shared stdio connection: progress, log messages, cancellation,
 * sampling, elicitation, list_changed and resource subscriptions.
 */
import assert from "node:assert/strict";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { stdioBackendCommand } from "../fixtures/stdio_backend.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

const CAPS = { capabilities: { sampling: {}, elicitation: {} } };

/**
 * `stdioMode` picks how the stdio backend is run: one process per client session (the default,
 * ADR 0006) or one process shared by all sessions (needed where two sessions must see one
 * backend's state, e.g. a resource one of them changes).
 */
async function setup(stdioMode: "perSession" | "shared" = "perSession") {
  const http = await serveHttpBackend({ name: "web" });
  const s = stdioBackendCommand({ name: "local" });
  const p = await proxy(config({
    backends: [
      { name: "web", url: http.url },
      {
        name: "local",
        transport: "stdio",
        command: s.command,
        args: s.args,
        env: s.env,
        stdio: { mode: stdioMode },
      },
    ],
  }));
  return { http, p, stop: async () => (await p.stop(), await http.stop()) };
}

for (const backend of ["web", "local"]) {
  Deno.test(`progress, log messages, sampling and elicitation from backend "${backend}" reach the calling client`, async () => {
    const s = await setup();
    const c = await connect(s.p.url, CAPS);
    try {
      const progress: string[] = [];
      const r = await c.client.callTool(
        { name: `${backend}_slow`, arguments: { ms: 100, steps: 4 } },
        undefined,
        {
          onprogress: (p) => void progress.push(String(p.message)),
        },
      );
      assert.deepEqual(r.content, [{ type: "text", text: "slept 100ms" }]);
      assert.deepEqual(progress, ["step 1", "step 2", "step 3", "step 4"]);

      const logs: unknown[] = [];
      c.client.setNotificationHandler(
        LoggingMessageNotificationSchema,
        (n) => void logs.push(n.params.data),
      );
      await c.client.callTool({ name: `${backend}_log`, arguments: { message: "hello log" } });
      await waitFor(() => logs.includes("hello log"), PATIENCE_MS, "log message");

      c.client.setRequestHandler(CreateMessageRequestSchema, (req) => ({
        model: "test-model",
        role: "assistant",
        content: {
          type: "text",
          text: `echo: ${(req.params.messages[0]!.content as { text: string }).text}`,
        },
      }));
      const sampled = await c.client.callTool({
        name: `${backend}_sample`,
        arguments: { prompt: "hi" },
      });
      assert.deepEqual(sampled.structuredContent, {
        model: "test-model",
        role: "assistant",
        text: "echo: hi",
      });

      c.client.setRequestHandler(
        ElicitRequestSchema,
        () => ({ action: "accept", content: { name: "Zoe" } }),
      );
      const elicited = await c.client.callTool({ name: `${backend}_elicit`, arguments: {} });
      assert.deepEqual(elicited.structuredContent, { action: "accept", content: { name: "Zoe" } });
    } finally {
      await c.close();
      await s.stop();
    }
  });
}

Deno.test("a client's cancellation aborts the backend call", async () => {
  const s = await setup();
  const c = await connect(s.p.url);
  try {
    const ac = new AbortController();
    const call = c.client.callTool(
      { name: "web_slow", arguments: { ms: 120_000, steps: 50 } }, // only the cancel ends it
      undefined,
      {
        signal: ac.signal,
      },
    );
    await waitFor(
      () => s.http.state.calls.some((x) => x.tool === "slow"),
      PATIENCE_MS,
      "call to reach the backend",
    );
    ac.abort(new Error("user cancelled"));
    await assert.rejects(call);
    await waitFor(() => s.http.state.cancellations === 1, PATIENCE_MS, "backend cancellation");
  } finally {
    await c.close();
    await s.stop();
  }
});

Deno.test("tools added and removed at a backend reach every session as list_changed and new lists", async () => {
  const s = await setup();
  const a = await connect(s.p.url);
  const b = await connect(s.p.url);
  try {
    let changed = 0;
    b.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await a.client.callTool({
      name: "web_mutate_tools",
      arguments: { action: "add", name: "fresh" },
    });
    await waitFor(() => changed >= 1, PATIENCE_MS, "list_changed at the other session");
    await waitFor(
      async () => (await b.client.listTools()).tools.some((t) => t.name === "web_fresh"),
      PATIENCE_MS,
      "web_fresh",
    );
    const r = await b.client.callTool({ name: "web_fresh", arguments: {} });
    assert.deepEqual(r.content, [{ type: "text", text: "web/fresh" }]);
    await a.client.callTool({
      name: "web_mutate_tools",
      arguments: { action: "remove", name: "fresh" },
    });
    await waitFor(() => changed >= 2, PATIENCE_MS, "second list_changed");
    await waitFor(
      async () => !(await b.client.listTools()).tools.some((t) => t.name === "web_fresh"),
      PATIENCE_MS,
      "removal",
    );
  } finally {
    await a.close();
    await b.close();
    await s.stop();
  }
});

for (const backend of ["web", "local"]) {
  Deno.test(`resources/updated from "${backend}" reaches only the sessions that subscribed`, async () => {
    // One shared stdio process, so that b's change is a change of the resource a subscribed to.
    const s = await setup("shared");
    const a = await connect(s.p.url);
    const b = await connect(s.p.url);
    try {
      const uri = `test://${backend}/readme`;
      const gotA: string[] = [];
      const gotB: string[] = [];
      a.client.setNotificationHandler(
        ResourceUpdatedNotificationSchema,
        (n) => void gotA.push(n.params.uri),
      );
      b.client.setNotificationHandler(
        ResourceUpdatedNotificationSchema,
        (n) => void gotB.push(n.params.uri),
      );
      await a.client.subscribeResource({ uri });
      // A third party (b) changes the resource.
      await b.client.callTool({ name: `${backend}_touch`, arguments: { uri } });
      await waitFor(() => gotA.includes(uri), PATIENCE_MS, "resources/updated at the subscriber");
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(gotB, []);
      await a.client.unsubscribeResource({ uri });
    } finally {
      await a.close();
      await b.close();
      await s.stop();
    }
  });
}
