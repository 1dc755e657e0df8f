/**
 * Lists are merged under each conflict strategy and calls, reads, prompts and completions are
 * routed to the right backend over all three transports; backend results and errors come back
 * as the backend sent them.
 */
import assert from "node:assert/strict";
import { McpError } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { serveSseBackend } from "../fixtures/serve_sse.ts";
import { stdioBackendCommand } from "../fixtures/stdio_backend.ts";
import { config, connect, proxy } from "./helpers.ts";

async function threeBackends() {
  const http = await serveHttpBackend({ name: "alpha", tools: 2 });
  const sse = await serveSseBackend({ name: "beta" });
  const stdio = stdioBackendCommand({ name: "gamma" });
  const backends = [
    { name: "alpha", url: http.url },
    { name: "beta", transport: "sse" as const, url: sse.url },
    {
      name: "gamma",
      transport: "stdio" as const,
      command: stdio.command,
      args: stdio.args,
      env: stdio.env,
    },
  ];
  return { http, sse, backends, stop: () => Promise.all([http.stop(), sse.stop()]) };
}

Deno.test("prefix strategy merges tools of HTTP, SSE and stdio backends and routes each call to its backend", async () => {
  const b = await threeBackends();
  const p = await proxy(config({ backends: b.backends }));
  const c = await connect(p.url);
  try {
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    for (const n of ["alpha_echo", "beta_echo", "gamma_echo", "alpha_tool_0", "alpha_tool_1"]) {
      assert.ok(names.includes(n), `${n} missing from ${names}`);
    }
    assert.deepEqual(names, [...names].sort());
    for (const backend of ["alpha", "beta", "gamma"]) {
      const r = await c.client.callTool({ name: `${backend}_echo`, arguments: { message: "x" } });
      assert.deepEqual(r.structuredContent, { message: "x", backend });
    }
    assert.equal(b.http.state.calls.at(-1)?.tool, "echo");
  } finally {
    await c.close();
    await p.stop();
    await b.stop();
  }
});

Deno.test("priority strategy keeps unprefixed names and gives a conflicting name to the first backend in priorityOrder", async () => {
  const alpha = await serveHttpBackend({ name: "alpha" });
  const beta = await serveHttpBackend({ name: "beta" });
  const p = await proxy(config({
    aggregation: {
      conflictResolution: "priority",
      conflictResolutionConfig: { priorityOrder: ["beta", "alpha"] },
    },
    backends: [{ name: "alpha", url: alpha.url }, { name: "beta", url: beta.url }],
  }));
  const c = await connect(p.url);
  try {
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("echo") && !names.includes("alpha_echo"), String(names));
    const r = await c.client.callTool({ name: "echo", arguments: { message: "m" } });
    assert.deepEqual(r.structuredContent, { message: "m", backend: "beta" });
  } finally {
    await c.close();
    await p.stop();
    await alpha.stop();
    await beta.stop();
  }
});

Deno.test("manual strategy advertises overridden names and calls the backend with the original name", async () => {
  const alpha = await serveHttpBackend({
    name: "alpha",
    builtins: false,
    extraTools: [],
    tools: 1,
  });
  const beta = await serveHttpBackend({ name: "beta", builtins: false, tools: 1 });
  const p = await proxy(config({
    aggregation: {
      conflictResolution: "manual",
      tools: [{
        workload: "alpha",
        overrides: { tool_0: { name: "alpha_first", description: "renamed" } },
      }],
    },
    backends: [{ name: "alpha", url: alpha.url }, { name: "beta", url: beta.url }],
  }));
  const c = await connect(p.url);
  try {
    const tools = (await c.client.listTools()).tools;
    const renamed = tools.find((t) => t.name === "alpha_first");
    assert.equal(renamed?.description, "renamed");
    assert.ok(tools.some((t) => t.name === "tool_0"));
    const r = await c.client.callTool({ name: "alpha_first", arguments: { value: "v" } });
    assert.deepEqual(r.content, [{ type: "text", text: "alpha/tool_0: v" }]);
    assert.equal(alpha.state.calls.at(-1)?.tool, "tool_0");
  } finally {
    await c.close();
    await p.stop();
    await alpha.stop();
    await beta.stop();
  }
});

Deno.test("tool errors, backend JSON-RPC errors, resources, templates, prompts and completions pass through", async () => {
  const b = await threeBackends();
  const p = await proxy(config({ backends: b.backends }));
  const c = await connect(p.url);
  try {
    const fail = await c.client.callTool({ name: "gamma_fail", arguments: { message: "nope" } });
    assert.deepEqual(fail, { isError: true, content: [{ type: "text", text: "nope" }] });
    // The fixture throws an McpError, so the message on the wire is "MCP error -32042: custom
    // failure"; a client wraps it once more — exactly what a client talking to beta directly sees.
    await assert.rejects(
      c.client.callTool({
        name: "beta_throw",
        arguments: { code: -32042, message: "custom failure" },
      }),
      (e: unknown) =>
        e instanceof McpError && e.code === -32042 &&
        e.message === "MCP error -32042: MCP error -32042: custom failure",
    );
    const resources = (await c.client.listResources()).resources.map((r) => r.uri);
    assert.ok(
      resources.includes("test://gamma/readme") && resources.includes("test://beta/counter"),
    );
    const read = await c.client.readResource({ uri: "test://beta/readme" });
    assert.match(String((read.contents[0] as { text: string }).text), /# beta/);
    const templates = (await c.client.listResourceTemplates()).resourceTemplates.map((t) =>
      t.uriTemplate
    );
    assert.ok(templates.includes("test://alpha/items/{id}"));
    const item = await c.client.readResource({ uri: "test://gamma/items/42" });
    assert.equal((item.contents[0] as { text: string }).text, "item 42 of gamma");
    const prompts = (await c.client.listPrompts()).prompts.map((x) => x.name);
    assert.ok(prompts.includes("alpha_greet") && prompts.includes("gamma_greet"), String(prompts));
    const prompt = await c.client.getPrompt({ name: "gamma_greet", arguments: { name: "Ann" } });
    assert.equal(
      (prompt.messages[0]!.content as { text: string }).text,
      "Hello, Ann! (from gamma)",
    );
    const done = await c.client.complete({
      ref: { type: "ref/prompt", name: "beta_greet" },
      argument: { name: "name", value: "al" },
    });
    assert.deepEqual(done.completion.values, ["Alice", "Alfred"]);
    const ids = await c.client.complete({
      ref: { type: "ref/resource", uri: "test://alpha/items/{id}" },
      argument: { name: "id", value: "4" },
    });
    assert.deepEqual(ids.completion.values, ["42"]);
    await c.client.setLoggingLevel("warning");
    await c.client.ping();
  } finally {
    await c.close();
    await p.stop();
    await b.stop();
  }
});
