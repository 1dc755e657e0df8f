/**
 * Tool search (`optimizer`, issue #19) through the real binary: OIDC callers (a real JWKS
 * issuer) with Cedar policies, in front of server-everything (its own Streamable HTTP server)
 * and two SDK test backends, one behind a TCP forwarder that can be killed. Legacy SDK clients
 * and raw 2026-07-28 requests see only find_tool and call_tool; find_tool finds tools by what
 * they do; call_tool's call reaches the backend; a filtered tool and a tool Cedar refuses the
 * caller are never found and answered as unknown tools; the index follows a backend going down
 * and coming back, and a backend's list_changed.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { connectWithToken, oidcIncoming, post } from "../auth/helpers.ts";
import { spawnProxy } from "../auth/process.ts";
import { FAST_FAILOVER, Forwarder, PATIENCE_MS, portOf, waitFor } from "../proxy/helpers.ts";

const POLICIES = [
  'permit(principal, action == Action::"call_tool", resource);',
  'forbid(principal == Client::"bob", action == Action::"call_tool", resource) when { resource.name == "everything_get-sum" };',
];

interface Found {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  score: number;
}

type Caller = Awaited<ReturnType<typeof connectWithToken>>;

async function find(c: Caller, query: string, limit?: number): Promise<Found[]> {
  const r = await c.client.callTool({
    name: "find_tool",
    arguments: { tool_description: query, ...(limit ? { limit } : {}) },
  });
  assert.notEqual(r.isError, true, JSON.stringify(r));
  const content = r.content as { type: string; text: string }[];
  return (JSON.parse(content[0]!.text) as { tools: Found[] }).tools;
}

function callError(c: Caller, name: string, args: Record<string, unknown> = {}) {
  return c.client.callTool({ name: "call_tool", arguments: { tool_name: name, parameters: args } })
    .then((r) => ({ result: r }), (err) => err as { code: number; message: string });
}

let nextId = 1;
function modern(url: string, token: string, method: string, params: Record<string, unknown>) {
  return post(
    url,
    JSON.stringify({
      jsonrpc: "2.0",
      id: nextId++,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
    {
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof params.name === "string" ? { "mcp-name": params.name } : {}),
      authorization: `Bearer ${token}`,
    },
  );
}

Deno.test("tool search: find_tool/call_tool through the proxy process, filters, Cedar, health and list_changed", async () => {
  const idp = await startOidcIssuer();
  const everything = await startEverythingHttp();
  const web = await serveHttpBackend({ name: "web" });
  const notes = await serveHttpBackend({ name: "notes" });
  const fwd = new Forwarder(portOf(web.url));
  const proc = await spawnProxy({
    name: "search-e2e",
    groupRef: { name: "g" },
    incomingAuth: {
      ...oidcIncoming(idp.issuer),
      authzConfig: { type: "inline", inline: { policies: POLICIES } },
    },
    operational: FAST_FAILOVER,
    aggregation: {
      conflictResolution: "prefix",
      conflictResolutionConfig: { prefixFormat: "{workload}_" },
      tools: [{
        workload: "web",
        // "log" is filtered out; "counter" is advertised as "tally" with its own description.
        filter: ["echo", "add", "tally"],
        overrides: { counter: { name: "tally", description: "Keeps a running tally of visits" } },
      }],
    },
    optimizer: { maxToolsToReturn: 5 },
    backends: [
      { name: "everything", url: everything.url },
      { name: "web", url: fwd.url },
      { name: "notes", url: notes.url },
    ],
  }, {});
  const alice = await connectWithToken(proc.url, await idp.sign({ sub: "alice" }));
  const bob = await connectWithToken(proc.url, await idp.sign({ sub: "bob" }));
  try {
    // Clients see the two tools only.
    const listed = (await alice.client.listTools()).tools;
    assert.deepEqual(listed.map((t) => t.name), ["call_tool", "find_tool"]);
    const findDef = listed.find((t) => t.name === "find_tool")!;
    assert.equal(
      (findDef.inputSchema.properties as Record<string, { maximum?: number }>).limit?.maximum,
      5,
    );

    // Found by what it does, with its full definition; the call goes through.
    const sum = await find(alice, "add two numbers together");
    assert.ok(sum.length <= 5);
    const getSum = sum.find((t) => t.name === "everything_get-sum");
    assert.ok(getSum, JSON.stringify(sum.map((t) => t.name)));
    assert.ok((getSum.inputSchema.properties as Record<string, unknown>).a);
    assert.ok(getSum.score > 0);
    const called = await alice.client.callTool({
      name: "call_tool",
      arguments: { tool_name: "everything_get-sum", parameters: { a: 2, b: 40 } },
    });
    assert.notEqual(called.isError, true);
    assert.match(JSON.stringify(called.content), /42/);
    // An override is what search sees and what call_tool calls.
    const tally = await find(alice, "running tally of visits", 1);
    assert.equal(tally[0]?.name, "web_tally");
    assert.equal(tally[0]?.description, "Keeps a running tally of visits");
    const counted = await alice.client.callTool({
      name: "call_tool",
      arguments: { tool_name: "web_tally", parameters: {} },
    });
    assert.notEqual(counted.isError, true);
    assert.equal(web.state.calls.filter((c) => c.tool === "counter").length, 1);

    // A filtered tool is never found nor callable: the answer of a tool that does not exist.
    const logs = await find(alice, "send a notifications/message log entry");
    assert.ok(!logs.some((t) => t.name === "web_log"), JSON.stringify(logs.map((t) => t.name)));
    const filtered = await callError(alice, "web_log");
    const unknown = await callError(alice, "web_nope");
    assert.ok("code" in filtered && "code" in unknown);
    assert.equal(filtered.code, unknown.code);
    assert.equal(filtered.message, unknown.message.replace("web_nope", "web_log"));
    assert.equal(web.state.calls.filter((c) => c.tool === "log").length, 0);

    // A tool Cedar refuses bob is never found for him nor callable; alice still gets it.
    const bobSum = await find(bob, "add two numbers together");
    assert.ok(!bobSum.some((t) => t.name === "everything_get-sum"));
    assert.ok(bobSum.some((t) => t.name === "web_add")); // what he may use is found
    const refused = await callError(bob, "everything_get-sum", { a: 1, b: 2 });
    assert.ok("code" in refused);
    assert.equal(refused.code, unknown.code);
    assert.equal(refused.message, unknown.message.replace("web_nope", "everything_get-sum"));
    // Called directly (not through call_tool), a backend tool is unknown too.
    const direct = await bob.client.callTool({ name: "web_add", arguments: { a: 1, b: 2 } })
      .then(() => undefined, (err) => err as { code: number; message: string });
    assert.equal(direct?.message, unknown.message.replace("web_nope", "web_add"));

    // 2026-07-28 callers (no session): the same two tools, the same search and call path.
    const token = await idp.sign({ sub: "alice" });
    const mList = await modern(proc.url, token, "tools/list", {});
    const mTools =
      (mList.json as unknown as { result: { tools: { name: string }[] } }).result.tools;
    assert.deepEqual(mTools.map((t) => t.name), ["call_tool", "find_tool"]);
    const mFind = await modern(proc.url, token, "tools/call", {
      name: "find_tool",
      arguments: { tool_description: "echo back a message", limit: 5 },
    });
    const mText = (mFind.json as unknown as { result: { content: { text: string }[] } }).result
      .content[0]!.text;
    assert.ok((JSON.parse(mText).tools as Found[]).some((t) => t.name === "web_echo"));
    const mCall = await modern(proc.url, token, "tools/call", {
      name: "call_tool",
      arguments: { tool_name: "web_add", parameters: { a: 20, b: 22 } },
    });
    assert.equal(mCall.json.error, undefined, mCall.text);
    assert.match(mCall.text, /42/);
    const bobToken = await idp.sign({ sub: "bob" });
    const mRefused = await modern(proc.url, bobToken, "tools/call", {
      name: "call_tool",
      arguments: { tool_name: "everything_get-sum", parameters: { a: 1, b: 2 } },
    });
    assert.equal(mRefused.json.error?.message, 'Unknown tool "everything_get-sum"');

    // The index follows the catalogue: a backend going down leaves the results, and is back
    // in them once it recovers; no restart.
    const hasWebAdd = async () =>
      (await find(alice, "add two numbers together")).some((t) => t.name === "web_add");
    assert.equal(await hasWebAdd(), true);
    fwd.kill();
    await waitFor(async () => !(await hasWebAdd()), PATIENCE_MS, "web_add to leave the results");
    fwd.restart(portOf(web.url));
    await waitFor(hasWebAdd, PATIENCE_MS, "web_add to come back");

    // A backend's list_changed: a tool added at run time is found.
    const added = await alice.client.callTool({
      name: "call_tool",
      arguments: { tool_name: "notes_mutate_tools", parameters: { action: "add", name: "zebra" } },
    });
    assert.notEqual(added.isError, true);
    await waitFor(
      async () =>
        (await find(alice, "tool added at run time to notes")).some((t) =>
          t.name === "notes_zebra"
        ),
      PATIENCE_MS,
      "notes_zebra to be found",
    );
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await proc.stop();
    fwd.kill();
    await Promise.all([web.stop(), notes.stop(), everything.stop(), idp.stop()]);
  }
});

Deno.test("tool search: bad find_tool and call_tool arguments are tool errors naming the value", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const proc = await spawnProxy({
    name: "search-args",
    groupRef: { name: "g" },
    optimizer: {},
    backends: [{ name: "web", url: web.url }],
  }, {});
  const c = await connectWithToken(proc.url, undefined);
  try {
    const bad = async (name: string, args: Record<string, unknown>) => {
      const r = await c.client.callTool({ name, arguments: args });
      assert.equal(r.isError, true);
      return (r.content as { text: string }[])[0]!.text;
    };
    assert.match(await bad("find_tool", {}), /tool_description must be a non-empty string/);
    assert.match(
      await bad("find_tool", { tool_description: "add", limit: 99 }),
      /limit must be an integer from 1 to 8, not 99/,
    );
    assert.match(await bad("call_tool", { parameters: {} }), /tool_name must be the name/);
    assert.match(
      await bad("call_tool", { tool_name: "web_add", parameters: [1, 2] }),
      /parameters must be an object.*\[1,2\]/,
    );
  } finally {
    await c.close();
    await proc.stop();
    await web.stop();
  }
});
