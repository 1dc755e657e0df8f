/**
 * A client that declares other capabilities than vmcp's discovery is listed from its capability
 * set's view (docs/adr/0012-lists-per-client-capability-set.md). When it hears
 * `tools/list_changed`, its next list shows the change, even when a discovery for its set that
 * asked the backend before the change is still running (that one is not joined: it would list
 * the old tools).
 *
 * Real parts, both eras: an HTTP backend whose capability-set discovery is held at its
 * `tools/list`, a vmcp proxy, and an SDK client declaring no capabilities (a set of its own): a
 * 2025-11-25 session hearing list_changed on its GET stream, a 2026-07-28 client on `listen()`.
 */
import assert from "node:assert/strict";
import {
  ClientV2,
  StreamableHTTPClientTransportV2,
  ToolListChangedNotificationSchema,
} from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import type { RunningProxy } from "../../proxy/serve.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

/** A backend request's JSON-RPC method (undefined: not a JSON POST). */
async function rpcOf(req: Request): Promise<{ method?: string } | undefined> {
  if (req.method !== "POST") return undefined;
  try {
    return { method: (await req.clone().json())?.method };
  } catch {
    return undefined;
  }
}

/** A client declaring no capabilities: lists tool names, counts tools/list_changed heard. */
interface Listener {
  heard(): number;
  names(): Promise<string[]>;
  close(): Promise<void>;
}

async function legacyClient(p: RunningProxy): Promise<Listener> {
  const c = await connect(p.url, { capabilities: {} });
  let heard = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
  return {
    heard: () => heard,
    names: async () => (await c.client.listTools()).tools.map((t) => t.name),
    close: () => c.close(),
  };
}

async function modernClient(p: RunningProxy): Promise<Listener> {
  const client = new ClientV2({ name: "views-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: {},
  });
  await client.connect(new StreamableHTTPClientTransportV2(new URL(p.url)));
  assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
  let heard = 0;
  client.setNotificationHandler("notifications/tools/list_changed", () => void heard++);
  const sub = await client.listen({ toolsListChanged: true });
  await waitFor(() => p.runtime.listenHub.size === 1, PATIENCE_MS, "the listen stream");
  return {
    heard: () => heard,
    names: async () => (await client.listTools()).tools.map((t) => t.name),
    close: async () => {
      await sub.close().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}

async function listedAfterListChanged(open: (p: RunningProxy) => Promise<Listener>) {
  // The backend holds the first tools/list of a backend session it has not seen list before,
  // once armed: a capability-set discovery (vmcp's own rediscovery lists on its long-lived
  // session, seen before arming).
  let armed = false;
  let heldAt = 0;
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const listedBefore = new Set<string>();
  const web = await serveHttpBackend({
    name: "web",
    tools: 1,
    onRequest: async (req) => {
      if ((await rpcOf(req))?.method !== "tools/list") return undefined;
      const session = req.headers.get("mcp-session-id") ?? "";
      if (!armed) listedBefore.add(session);
      else if (!listedBefore.has(session)) {
        armed = false;
        heldAt++;
        await held;
      }
      return undefined;
    },
  });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  const c = await open(p);
  try {
    // The set's view exists (discovered once).
    assert.ok(!(await c.names()).some((n) => n.endsWith("first_tool")));
    // A change makes it stale; the next list's discovery asks the backend and is held there,
    // having listed the tools of before the next change.
    await web.state.addTool({ name: "first_tool", handler: () => ({ content: [] }) });
    await waitFor(() => c.heard() >= 1, PATIENCE_MS, "list_changed for first_tool");
    armed = true;
    const early = c.names();
    await waitFor(() => heldAt === 1, PATIENCE_MS, "the set's discovery held at the backend");
    // Now the change the client is told of.
    const seen = c.heard();
    await web.state.addTool({ name: "gap_tool", handler: () => ({ content: [] }) });
    await waitFor(() => c.heard() > seen, PATIENCE_MS, "list_changed for gap_tool");
    // Answered while the earlier discovery is still held (it is not joined), with the change.
    let listed: string[] | undefined;
    c.names().then((n) => listed = n);
    await waitFor(() => listed, PATIENCE_MS, "the list after list_changed, answered");
    assert.ok(listed!.some((n) => n.endsWith("gap_tool")), `lists gap_tool: ${listed}`);
    release();
    assert.ok((await early).some((n) => n.endsWith("first_tool")));
  } finally {
    release();
    await c.close();
    await p.stop();
    await web.stop();
  }
}

Deno.test("capability views: after list_changed, a 2025-11-25 session of its own capability set is listed the change while a discovery of its set from before the change still runs", async () => {
  await listedAfterListChanged(legacyClient);
});

Deno.test("capability views: after list_changed, a 2026-07-28 client of its own capability set is listed the change while a discovery of its set from before the change still runs", async () => {
  await listedAfterListChanged(modernClient);
});
