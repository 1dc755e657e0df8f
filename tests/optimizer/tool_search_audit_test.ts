/**
 * Tool search (`optimizer`) with the audit trail and rate limits, through the real binary with
 * OIDC callers (a real JWKS issuer) in front of a real SDK backend: each `find_tool` is an
 * `mcp_tool_search` event (the query redacted as request data, `resultCount`, the caller), a
 * call through `call_tool` stays an `mcp_tool_call` of the tool it names; searches count only
 * against a `rateLimiting.tools[]` entry named `find_tool`, never against `perUser`.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { connectWithToken, oidcIncoming, waitFor } from "../auth/helpers.ts";
import { spawnProxy } from "../auth/process.ts";

// deno-lint-ignore no-explicit-any
type Event = Record<string, any>;

const HOUR = "1h";

function readEvents(path: string): Event[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch { /* not created yet */ }
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("tool search: find_tool is audited as mcp_tool_search and limited only by its own tools[] entry", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const dir = await Deno.makeTempDir({ prefix: "vmcp-search-audit-" });
  const file = `${dir}/audit.log`;
  const p = await spawnProxy(
    {
      name: "search-audit",
      groupRef: { name: "g" },
      incomingAuth: oidcIncoming(idp.issuer),
      backends: [{ name: "web", url: web.url }],
      optimizer: {},
      audit: { enabled: true, includeRequestData: true, output: "file", filePath: file },
      rateLimiting: {
        perUser: { maxTokens: 2, refillPeriod: HOUR },
        tools: [{ name: "find_tool", perUser: { maxTokens: 3, refillPeriod: HOUR } }],
      },
    },
    {},
    { logLevel: "info" },
  );
  const secret = await idp.sign({ sub: "inside-a-query" });
  const a = await connectWithToken(p.url, await idp.sign({ sub: "alice" }));
  const b = await connectWithToken(p.url, await idp.sign({ sub: "bob" }));
  try {
    const find = (c: typeof a, q: string) =>
      c.client.callTool({
        name: "find_tool",
        arguments: { tool_description: q, tool_keywords: [secret] },
      });
    const refusal = (call: Promise<unknown>) =>
      call.then(() => undefined, (e) => e as { code: number; message: string });
    // Three searches pass although perUser allows two calls: searches are not calls.
    for (let i = 0; i < 3; i++) {
      const r = await find(a, "add two numbers");
      const tools = JSON.parse((r.content as { text: string }[])[0]!.text).tools;
      assert.ok(tools.some((t: { name: string }) => t.name === "web_add"));
    }
    // The fourth is refused by find_tool's own per-user bucket; bob's is his own.
    const refused = await refusal(find(a, "add two numbers"));
    assert.equal(refused?.code, -32029, JSON.stringify(refused));
    assert.match(refused!.message, /find_tool/);
    assert.equal((await find(b, "echo a message")).isError, undefined);
    // alice's two calls (perUser 2) still pass; the third is refused by perUser.
    const call = () =>
      a.client.callTool({
        name: "call_tool",
        arguments: { tool_name: "web_add", parameters: { a: 1, b: 2 } },
      });
    for (let i = 0; i < 2; i++) assert.notEqual((await call()).isError, true);
    assert.equal((await refusal(call()))?.code, -32029);

    await waitFor(
      () => {
        const types = readEvents(file).map((e) => e.type);
        return types.filter((t) => t === "mcp_tool_search").length >= 5 &&
          types.filter((t) => t === "mcp_tool_call").length >= 3;
      },
      30_000,
      "the search and call events",
    );
    const events = readEvents(file);
    const searches = events.filter((e) => e.type === "mcp_tool_search");
    const alice = searches.filter((e) => e.subject === "alice");
    assert.equal(alice.length, 4);
    for (const e of alice.slice(0, 3)) {
      assert.equal(e.outcome, "success");
      assert.ok(e.resultCount >= 1, JSON.stringify(e));
      assert.deepEqual(e.target, { type: "tool", name: "find_tool" });
      assert.equal(e.data.request.tool_description, "add two numbers");
    }
    assert.equal(alice[3]!.outcome, "error");
    assert.equal(alice[3]!.errorCode, -32029);
    assert.equal(alice[3]!.resultCount, undefined);
    assert.equal(searches.filter((e) => e.subject === "bob").length, 1);
    // call_tool's call is recorded as a call of the tool it names (not of call_tool).
    const calls = events.filter((e) => e.type === "mcp_tool_call" && e.subject === "alice");
    assert.equal(calls.length, 3);
    assert.ok(calls.every((e) => e.target.name === "web_add"));
    // The token inside a query never reaches the file.
    assert.ok(!Deno.readTextFileSync(file).includes(secret));
    // A tools[] entry named find_tool is not reported as matching no tool.
    const lines = p.stderr().split("\n");
    assert.ok(!lines.some((l) => l.includes("limits nothing") && l.includes('"find_tool"')));
  } finally {
    await a.close();
    await b.close();
    await p.stop();
    await web.stop();
    await idp.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
