/**
 * What a hostile client or backend can put into the audit trail, through the real binary in
 * front of a real SDK backend: credentials in a resource URI, in a tool's error message and in
 * a composite step's failure text (a workflow step event) never reach the audit file, and a
 * client-chosen name cannot start a line of its own for any common line reader.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { config, connectWithToken, oidcIncoming, waitFor } from "../auth/helpers.ts";
import { spawnProxy } from "../auth/process.ts";
import { AUTH_FAILED_BURST, AUTH_FAILED_EVERY_MS } from "../../proxy/audit/auth_failures.ts";

// deno-lint-ignore no-explicit-any
type Event = Record<string, any>;

function readEvents(path: string): Event[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch { /* not created yet */ }
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("audit: credentials in URIs, error messages and failed steps are redacted; names cannot start a line", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const dir = await Deno.makeTempDir({ prefix: "vmcp-audit-secrets-" });
  const file = `${dir}/audit.log`;
  const stepSecret = "sk-StepSecretStepSecret1234";
  const cfg = config({
    backends: [{ name: "web", url: web.url }],
    compositeTools: [{
      name: "leaky",
      description: "A workflow whose step fails with a credential in its error text",
      parameters: { type: "object", properties: { m: { type: "string" } }, required: ["m"] },
      steps: [{ id: "f", tool: "web_fail", arguments: { message: "{{.params.m}}" } }],
    }],
    audit: { enabled: true, output: "file", filePath: file },
  });
  const p = await spawnProxy(cfg, {}, { logLevel: "info" });
  const c = await connectWithToken(p.url, undefined);
  try {
    // A resource URI holding a password and a token (unknown: the event still names it).
    await assert.rejects(() =>
      c.client.readResource({
        uri: "postgres://app:UriPassw0rd@db/x?access_token=UriToken123",
      })
    );
    // A backend error quoting a credential.
    await assert.rejects(
      () =>
        c.client.callTool({
          name: "web_throw",
          arguments: { code: -32042, message: "login failed: password=ThrownPassw0rd" },
        }),
      /login failed/,
    );
    // A tool name carrying a forged event after a character some line readers break on.
    const forged = '{"audit":true,"type":"session_opened","subject":"forged-admin"}';
    await assert.rejects(() =>
      c.client.callTool({ name: `nope\u2028${forged}\u0085${forged}\u2029`, arguments: {} })
    );
    // A composite step failing with a credential in its text.
    const wf = await c.client.callTool({
      name: "leaky",
      arguments: { m: `upstream said ${stepSecret}` },
    });
    assert.equal(wf.isError, true);

    const events = await waitFor<Event[]>(
      () => {
        const got = readEvents(file);
        const done = got.some((e) => e.type === "workflow_failed") &&
          got.some((e) => e.target?.name?.startsWith("nope")) &&
          got.some((e) => e.type === "mcp_resource_read") &&
          got.some((e) => e.target?.name === "web_throw");
        return done ? got : (undefined as unknown as Event[]);
      },
      30_000,
      "the audit events",
    );
    const text = Deno.readTextFileSync(file);
    for (const secret of ["UriPassw0rd", "UriToken123", "ThrownPassw0rd", stepSecret]) {
      assert.ok(!text.includes(secret), `${secret} must not be in the audit file:\n${text}`);
    }
    // Split as Python's str.splitlines does: still one event per line, nothing forged.
    // deno-lint-ignore no-control-regex
    for (const line of text.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/)) {
      if (line === "") continue;
      const e = JSON.parse(line);
      assert.equal(e.audit, true);
      assert.notEqual(e.subject, "forged-admin");
    }
    const read = events.find((e) => e.type === "mcp_resource_read")!;
    assert.equal(read.target.uri, "postgres://app:[redacted]@db/x?access_token=[redacted]");
    const thrown = events.find((e) => e.target?.name === "web_throw")!;
    assert.match(thrown.error, /login failed: password=\[redacted\]$/);
    const step = events.find((e) => e.type === "workflow_step_failed" && e.stepId === "f");
    assert.ok(step, "the failed step's event");
    assert.match(step.error, /upstream said \[redacted\]/);
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit: a client hammering the front door with bad tokens gets a burst of auth_failed events, the rest counted", async () => {
  const idp = await startOidcIssuer();
  const dir = await Deno.makeTempDir({ prefix: "vmcp-audit-flood-" });
  const file = `${dir}/audit.log`;
  const cfg = config({
    incomingAuth: oidcIncoming(idp.issuer),
    backends: [],
    audit: { enabled: true, output: "file", filePath: file, eventTypes: ["auth_failed"] },
  });
  const p = await spawnProxy(cfg, {}, { logLevel: "info" });
  let sent = 0;
  const refused = async () => {
    const r = await fetch(p.url, {
      method: "POST",
      headers: { authorization: "Bearer not-a-token", "content-type": "application/json" },
      body: "{}",
    });
    await r.body?.cancel();
    assert.equal(r.status, 401);
    sent++;
  };
  try {
    const began = performance.now();
    for (let i = 0; i < 300; i++) await refused();
    // After a pause longer than the refill interval the host's next failure is written, and it
    // carries the count of every failure not written since its last event: then each failure is
    // accounted for exactly (written, or counted), whatever the speed of the machine.
    await new Promise((r) => setTimeout(r, 1_100));
    await refused();
    // The proxy saw every failure within this time: a burst, plus one event per second of it.
    const mostEvents = AUTH_FAILED_BURST +
      Math.ceil((performance.now() - began) / AUTH_FAILED_EVERY_MS);
    const accounted = (got: Event[]) =>
      got.length + got.reduce((n, e) => n + (e.suppressed ?? 0), 0);
    const events = await waitFor<Event[]>(
      () => {
        const got = readEvents(file);
        return accounted(got) === sent ? got : (undefined as unknown as Event[]);
      },
      30_000,
      "auth_failed events accounting for every failure",
    );
    assert.ok(events.length <= mostEvents, `${events.length} events for ${sent} failures`);
    assert.ok(events.some((e) => e.suppressed > 0), "some failures were counted, not written");
    assert.ok(events.every((e) => e.type === "auth_failed" && e.reason === "invalid_token"));
  } finally {
    await p.stop();
    await idp.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
