/**
 * Backends answering HTTP 401/403: with no outgoing auth configured the backend is shown
 * `unauthenticated` in /status with a message telling to configure outgoingAuth; with a
 * strategy configured it counts as alive (the reference's rule); a call refused with 401/403
 * comes back as a tool error result naming the backend, and the proxy keeps serving.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

interface StatusEntry {
  name: string;
  status: string;
  routable: boolean;
  message?: string;
  consecutiveFailures: number;
}

async function statusOf(url: string, name: string): Promise<StatusEntry> {
  const s = await (await fetch(url.replace(/\/mcp$/, "/status"))).json();
  return s.backends.find((b: StatusEntry) => b.name === name);
}

const FAST_HEALTH = {
  failureHandling: {
    healthCheckInterval: "1s",
    unhealthyThreshold: 1,
    partialFailureMode: "best_effort" as const,
  },
};

const HEADER_STRATEGY: NonNullable<VmcpConfigInput["outgoingAuth"]> = {
  source: "inline",
  backends: {
    locked: {
      type: "headerInjection",
      headerInjection: { headerName: "x-api-key", valueEnv: "POLISH_TEST_UNSET_KEY" },
    },
  },
};

Deno.test("a backend answering 401 with no outgoing auth configured is unauthenticated in /status, telling to configure outgoingAuth; others keep serving", async () => {
  const good = await serveHttpBackend({ name: "good" });
  let refused = 0;
  const locked = await serveHttpBackend({
    name: "locked",
    onRequest: () => {
      refused++;
      return new Response("missing credentials", { status: 401 });
    },
  });
  const p = await proxy(config({
    operational: FAST_HEALTH,
    backends: [{ name: "good", url: good.url }, { name: "locked", url: locked.url }],
  }));
  const c = await connect(p.url);
  try {
    const entry = await statusOf(p.url, "locked");
    assert.equal(entry.status, "unauthenticated", JSON.stringify(entry));
    assert.equal(entry.consecutiveFailures, 0);
    assert.match(entry.message!, /HTTP 401/);
    assert.match(entry.message!, /configure outgoingAuth/);
    // Probes keep asking (discovery retried), and the state stays unauthenticated, not unhealthy.
    const before = refused;
    await waitFor(() => refused >= before + 2, PATIENCE_MS, "more probes");
    assert.equal((await statusOf(p.url, "locked")).status, "unauthenticated");

    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("good_echo"), String(names));
    assert.ok(!names.some((n) => n.startsWith("locked_")), String(names));
    const r = await c.client.callTool({ name: "good_echo", arguments: { message: "ok" } });
    assert.deepEqual(r.structuredContent, { message: "ok", backend: "good" });
  } finally {
    await c.close();
    await p.stop();
    await locked.stop();
    await good.stop();
  }
});

Deno.test("a backend answering 403 while an outgoing auth strategy is configured counts as alive (ready), not unauthenticated or unhealthy", async () => {
  let refused = 0;
  const locked = await serveHttpBackend({
    name: "locked",
    onRequest: () => (refused++, new Response("forbidden", { status: 403 })),
  });
  const p = await proxy(config({
    operational: FAST_HEALTH,
    outgoingAuth: HEADER_STRATEGY,
    backends: [{ name: "locked", url: locked.url }],
  }));
  try {
    const entry = await statusOf(p.url, "locked");
    assert.equal(entry.status, "ready", JSON.stringify(entry));
    assert.equal(entry.routable, true);
    const before = refused;
    await waitFor(() => refused >= before + 3, PATIENCE_MS, "several probes, all answered 403");
    const later = await statusOf(p.url, "locked");
    assert.equal(later.status, "ready", JSON.stringify(later));
    assert.equal(later.consecutiveFailures, 0);
  } finally {
    await p.stop();
    await locked.stop();
  }
});

Deno.test("a tool call refused with 401 comes back as an isError tool result naming the backend; the session and proxy keep working", async () => {
  let deny = false;
  const web = await serveHttpBackend({
    name: "web",
    // Refuses client sessions' own connections once `deny` is set (the proxy's shared
    // discovery/probe connection was opened before and is not affected).
    onRequest: () => (deny ? new Response("token expired", { status: 401 }) : undefined),
  });
  const p = await proxy(config({
    operational: { failureHandling: { partialFailureMode: "best_effort" } },
    backends: [{ name: "web", url: web.url }],
  }));
  const c = await connect(p.url);
  try {
    assert.ok((await c.client.listTools()).tools.some((t) => t.name === "web_echo"));
    deny = true;
    const r = await c.client.callTool({ name: "web_echo", arguments: { message: "x" } });
    assert.equal(r.isError, true, JSON.stringify(r));
    const text = (r.content as { type: string; text: string }[])[0]!.text;
    assert.match(text, /Backend "web" refused the call with HTTP 401 \(Unauthorized\)/);
    assert.match(text, /outgoingAuth/);
    // No strategy configured: the refusal marks the backend unauthenticated, not unhealthy.
    const entry = await statusOf(p.url, "web");
    assert.equal(entry.status, "unauthenticated", JSON.stringify(entry));

    deny = false;
    const ok = await c.client.callTool({ name: "web_echo", arguments: { message: "back" } });
    assert.deepEqual(ok.structuredContent, { message: "back", backend: "web" });
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});
