/**
 * The audit trail through the real binary (`main.ts --mode=proxy` as a child process) in front
 * of a real SDK backend, with a real OIDC issuer for identities and Cedar policies for a
 * denial: legacy (2025-11-25, SDK client, sessions) and modern (2026-07-28, v2 SDK client)
 * calls, prompts and reads, authorization denials (also of a composite step), authentication
 * failures at the front door, a session presented by another identity, and a composite
 * workflow's step events, all read back from the audit file. Secrets presented by clients never
 * appear in it.
 */
import assert from "node:assert/strict";
import { ClientV2, StreamableHTTPClientTransportV2 } from "../../core/sdk.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connectWithToken, oidcIncoming, waitFor } from "../auth/helpers.ts";
import { spawnProxy } from "../auth/process.ts";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";

// deno-lint-ignore no-explicit-any
type Event = Record<string, any>;

const POLICIES = [
  'permit(principal == Client::"alice", action, resource);',
  'permit(principal == Client::"bob", action == Action::"call_tool", resource == Tool::"audited");',
];

/** A workflow that exercises every step event: completed, skipped, timed out, retried, failed. */
const COMPOSITE: NonNullable<VmcpConfigInput["compositeTools"]> = [{
  name: "audited",
  description: "A workflow with every kind of step outcome",
  parameters: { type: "object", properties: { m: { type: "string" } }, required: ["m"] },
  steps: [
    { id: "e", tool: "web_echo", arguments: { message: "{{.params.m}}" } },
    {
      id: "skip",
      tool: "web_echo",
      arguments: { message: "never" },
      condition: '{{eq .params.m "never"}}',
      dependsOn: ["e"],
    },
    {
      id: "slow",
      tool: "web_slow",
      arguments: { ms: 5000, steps: 1 },
      timeout: "300ms",
      onError: { action: "continue" },
      dependsOn: ["skip"],
    },
    {
      id: "flaky",
      tool: "web_fail",
      arguments: { message: "broken" },
      onError: { action: "retry", retryCount: 1, retryDelay: "10ms" },
      dependsOn: ["slow"],
    },
  ],
}];

function readEvents(path: string): Event[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch { /* not created yet */ }
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** A v2 SDK client speaking MCP 2026-07-28 with a bearer token. */
async function modernClient(url: string, token: string) {
  const client = new ClientV2({ name: "modern-audit", version: "2.0.0" }, {
    versionNegotiation: { mode: "auto" },
  });
  const transport = new StreamableHTTPClientTransportV2(new URL(url), {
    fetch: (u, init) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${token}`);
      return fetch(u, { ...init, headers });
    },
  });
  await client.connect(transport);
  assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
  return client;
}

Deno.test("audit: both eras, denials, auth failures and workflow steps are written to the audit file, without secrets", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const dir = await Deno.makeTempDir({ prefix: "vmcp-audit-" });
  const file = `${dir}/audit.log`;
  const cfg = config({
    incomingAuth: {
      ...oidcIncoming(idp.issuer),
      authzConfig: { type: "inline", inline: { policies: POLICIES } },
    },
    backends: [{ name: "web", url: web.url }],
    compositeTools: COMPOSITE,
    audit: {
      enabled: true,
      includeRequestData: true,
      maxDataSize: 200,
      output: "file",
      filePath: file,
    },
  });
  const p = await spawnProxy(cfg, {}, { logLevel: "info" });
  const alice = await idp.sign({ sub: "alice" });
  const bob = await idp.sign({ sub: "bob" });
  const forged = await idp.sign({ sub: "mallory", aud: "someone-else" });
  const embeddedJwt = await idp.sign({ sub: "inside-an-argument" });
  const a = await connectWithToken(p.url, alice);
  const b = await connectWithToken(p.url, bob);
  const m = await modernClient(p.url, alice);
  try {
    // Authentication failures at the front door (the client gets 401; the event has no token).
    const noToken = await fetch(p.url, { method: "POST", body: "{}" });
    await noToken.body?.cancel();
    assert.equal(noToken.status, 401);
    const badToken = await fetch(p.url, {
      method: "POST",
      headers: { authorization: `Bearer ${forged}`, "content-type": "application/json" },
      body: "{}",
    });
    await badToken.body?.cancel();
    assert.equal(badToken.status, 401);
    const status = await fetch(`${p.origin}/status`);
    await status.body?.cancel();
    assert.equal(status.status, 401);

    // Legacy calls by alice.
    const ok = await a.client.callTool({
      name: "web_echo",
      arguments: { message: `hi ${embeddedJwt}`, password: "hunter2", apiKey: "k-123456" },
    });
    assert.notEqual(ok.isError, true);
    await a.client.callTool({ name: "web_echo", arguments: { message: "z".repeat(1000) } });
    await assert.rejects(
      () => a.client.callTool({ name: "web_throw", arguments: { code: -32042, message: "no" } }),
      /no/,
    );
    await a.client.getPrompt({ name: "web_greet", arguments: { name: "Ann" } });
    const uri = (await a.client.listResources()).resources[0]!.uri;
    await a.client.readResource({ uri });
    const wf = await a.client.callTool({ name: "audited", arguments: { m: "go" } });
    assert.equal(wf.isError, true, "the flaky step fails the workflow");

    // bob: refused exactly as an unknown tool; his composite's step is refused too.
    await assert.rejects(
      () => b.client.callTool({ name: "web_echo", arguments: { message: "x" } }),
      /Unknown tool "web_echo"/,
    );
    const stepRefused = await b.client.callTool({ name: "audited", arguments: { m: "go" } });
    assert.equal(stepRefused.isError, true);

    // A 2026-07-28 call by alice.
    const modern = await m.callTool({ name: "web_echo", arguments: { message: "modern hi" } });
    assert.match(JSON.stringify(modern.content), /modern hi/);

    // bob presents alice's session: refused (403), audited, alice keeps it.
    const hijack = await fetch(p.url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${bob}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": a.transport.sessionId!,
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    await hijack.body?.cancel();
    assert.equal(hijack.status, 403);

    await a.close();
    const events = await waitFor<Event[]>(
      () => {
        const got = readEvents(file);
        const closed = got.some((e) => e.type === "session_closed" && e.subject === "alice");
        const modernSeen = got.some((e) => e.era === "modern" && e.type === "mcp_tool_call");
        const bobDone = got.some((e) => e.type === "workflow_failed" && e.subject === "bob");
        return closed && modernSeen && bobDone ? got : (undefined as unknown as Event[]);
      },
      30_000,
      "the audit events",
    );

    // Every line is one JSON object marked as audit.
    for (const e of events) {
      assert.equal(e.audit, true);
      assert.match(e.auditId, /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(e.loggedAt)));
    }
    const text = Deno.readTextFileSync(file);
    for (const secret of [alice, bob, forged, embeddedJwt, "hunter2", "k-123456"]) {
      assert.ok(!text.includes(secret), "no token, password or key in the audit file");
    }

    const find = (pred: (e: Event) => boolean, what: string) => {
      const e = events.find(pred);
      assert.ok(e, `${what} in:\n${events.map((x) => JSON.stringify(x)).join("\n")}`);
      return e;
    };

    const missing = find((e) => e.type === "auth_failed" && e.reason === "missing_token", "401");
    assert.equal(missing.outcome, "denied");
    assert.equal(missing.status, 401);
    assert.match(missing.remoteAddress, /^127\.0\.0\.1:\d+$/);
    const invalid = find((e) => e.type === "auth_failed" && e.reason === "invalid_token", "bad");
    assert.equal(typeof invalid.detail, "string");
    assert.equal(invalid.path, "/mcp");
    find((e) => e.type === "auth_failed" && e.path === "/status", "the refused /status");

    const opened = find((e) => e.type === "session_opened" && e.subject === "alice", "opened");
    assert.equal(opened.issuer, idp.issuer);
    assert.deepEqual(opened.client, { name: "auth-test-client", version: "1.0.0" });
    assert.match(opened.session, /^[0-9a-f]{16}$/);
    assert.ok(!text.includes(a.transport.sessionId ?? "no-session-id"), "session ids hashed");

    const call = find(
      (e) => e.type === "mcp_tool_call" && e.subject === "alice" && e.data?.request?.password,
      "alice's echo",
    );
    assert.equal(call.outcome, "success");
    assert.equal(call.era, "legacy");
    assert.equal(call.session, opened.session);
    assert.deepEqual(call.client, { name: "auth-test-client", version: "1.0.0" });
    assert.deepEqual(call.target, {
      type: "tool",
      name: "web_echo",
      backend: "web",
      originalName: "echo",
    });
    assert.equal(typeof call.durationMs, "number");
    assert.deepEqual(call.data.request, {
      message: "hi [redacted]",
      password: "[redacted]",
      apiKey: "[redacted]",
    });

    const long = find((e) => e.type === "mcp_tool_call" && e.truncated, "truncated data");
    assert.equal(typeof long.data.request, "string");
    assert.equal(new TextEncoder().encode(long.data.request).byteLength, 200);

    const thrown = find((e) => e.target?.name === "web_throw", "the thrown call");
    assert.equal(thrown.outcome, "error");
    assert.equal(thrown.errorCode, -32042);

    const prompt = find((e) => e.type === "mcp_prompt_get", "prompts/get");
    assert.equal(prompt.outcome, "success");
    assert.deepEqual(prompt.target, {
      type: "prompt",
      name: "web_greet",
      backend: "web",
      originalName: "greet",
    });
    const read = find((e) => e.type === "mcp_resource_read", "resources/read");
    assert.deepEqual(read.target, { type: "resource", uri, backend: "web" });

    const denied = find(
      (e) => e.type === "mcp_tool_call" && e.subject === "bob" && !e.workflowId,
      "bob's denial",
    );
    assert.equal(denied.outcome, "denied");
    assert.equal(denied.errorCode, -32602);
    assert.equal(denied.target.name, "web_echo");
    const stepDenied = find(
      (e) => e.type === "mcp_tool_call" && e.subject === "bob" && e.stepId === "e",
      "bob's refused step",
    );
    assert.equal(stepDenied.outcome, "denied");

    // alice's workflow: started, each step's outcome, the step calls, failed at the end.
    const started = find(
      (e) => e.type === "workflow_started" && e.subject === "alice",
      "workflow start",
    );
    const id = started.workflowId;
    assert.deepEqual(started.data, { request: { m: "go" } });
    const ofRun = events.filter((e) => e.workflowId === id);
    const steps = ofRun.filter((e) => e.type.startsWith("workflow_step_"))
      .map((e) => `${e.stepId}:${e.type.slice("workflow_step_".length)}`);
    for (
      const s of [
        "e:started",
        "e:completed",
        "skip:skipped",
        "slow:timed_out",
        "flaky:retrying",
        "flaky:failed",
      ]
    ) assert.ok(steps.includes(s), `${s} in ${steps.join(", ")}`);
    const stepCall = ofRun.find((e) => e.type === "mcp_tool_call" && e.stepId === "e");
    assert.equal(stepCall?.target.originalName, "echo");
    assert.equal(ofRun.at(-1)?.type, "workflow_failed");
    const outer = find((e) => e.target?.name === "audited" && e.subject === "alice", "outer");
    assert.equal(outer.outcome, "error");
    assert.equal(outer.toolError, true);
    assert.equal(outer.target.composite, true);

    // 2026-07-28: no session, the envelope's client info.
    const modernCall = find((e) => e.era === "modern" && e.type === "mcp_tool_call", "modern");
    assert.equal(modernCall.subject, "alice");
    assert.equal(modernCall.session, undefined);
    assert.deepEqual(modernCall.client, { name: "modern-audit", version: "2.0.0" });
    assert.equal(modernCall.outcome, "success");

    const refused = find((e) => e.type === "session_refused", "the refused session");
    assert.equal(refused.subject, "bob");
    assert.equal(refused.outcome, "denied");
    assert.equal(refused.session, opened.session, "names alice's session (hashed)");

    const closed = find((e) => e.type === "session_closed" && e.subject === "alice", "closed");
    assert.equal(closed.ended, true);
    assert.equal(closed.session, opened.session);

    // The operational log (stderr) holds no audit events when they go to a file.
    assert.ok(!p.stderr().includes('"audit":true'));
  } finally {
    await a.close().catch(() => {});
    await b.close();
    await m.close().catch(() => {});
    await p.stop();
    await web.stop();
    await idp.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit: output stderr puts marked event lines beside the operational log; /metrics counts drops", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const cfg = config({
    backends: [{ name: "web", url: web.url }],
    audit: { enabled: true, eventTypes: ["mcp_tool_call"] },
  });
  const p = await spawnProxy(cfg, {}, { logLevel: "info" });
  const c = await connectWithToken(p.url, undefined);
  try {
    await c.client.callTool({ name: "web_echo", arguments: { message: "to stderr" } });
    const line = await waitFor<string>(
      () => p.stderr().split("\n").find((l) => l.includes('"audit":true')) ?? "",
      30_000,
      "an audit line on stderr",
    );
    const e = JSON.parse(line);
    assert.equal(e.type, "mcp_tool_call");
    assert.equal(e.subject, "anonymous");
    assert.equal(e.data, undefined, "no request data unless includeRequestData");
    const lines = p.stderr().split("\n").filter((l) => l.startsWith("{"));
    assert.ok(lines.some((l) => !l.includes('"audit":true') && JSON.parse(l).level === "info"));
    assert.ok(
      !lines.some((l) => l.includes('"type":"session_opened"')),
      "eventTypes: only tool calls",
    );
    const metrics = await (await fetch(`${p.origin}/metrics`)).text();
    assert.match(metrics, /^vmcp_audit_events_dropped_total 0$/m);
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});
