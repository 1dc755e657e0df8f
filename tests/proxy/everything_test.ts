/**
 * The third-party reference server (@modelcontextprotocol/server-everything, stdio) behind the
 * proxy, and behind `--stdio-bridge`; plus the extra-tool seam composite tools use.
 */
import assert from "node:assert/strict";
import { bridgeConfig } from "../../proxy/main.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, proxy, proxyBeforeEverything } from "./helpers.ts";

Deno.test("server-everything's tools are listed and called through the proxy", async () => {
  const p = await proxyBeforeEverything();
  const c = await connect(p.url);
  try {
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("every_echo"), String(names));
    const r = await c.client.callTool({ name: "every_echo", arguments: { message: "hi" } });
    assert.match(JSON.stringify(r.content), /hi/);
  } finally {
    await c.close();
    await p.stop();
  }
});

Deno.test("--stdio-bridge serves one stdio server with its own tool names", async () => {
  const e = everythingServerCommand();
  const p = await proxy(bridgeConfig([e.command, ...e.args], { ...e.env }));
  const c = await connect(p.url);
  try {
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("echo"), String(names));
  } finally {
    await c.close();
    await p.stop();
  }
});

Deno.test("an extra tool registered on the runtime is listed and can call hidden backend tools with progress", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({
    aggregation: { tools: [{ workload: "web", excludeAll: true }] },
    backends: [{ name: "web", url: web.url }],
  }));
  p.runtime.registerTool({
    tool: { name: "double_echo", inputSchema: { type: "object" } },
    handler: async (args, ctx) => {
      ctx.progress({ progress: 1, total: 2 });
      const a = await ctx.callTool("web_echo", { message: String(args.message) });
      const b = await ctx.callTool("web.echo", { message: String(args.message) });
      ctx.progress({ progress: 2, total: 2 });
      return { content: [...(a.content as unknown[]), ...(b.content as unknown[])] };
    },
  });
  const c = await connect(p.url);
  try {
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(names, ["double_echo"]);
    const seen: number[] = [];
    const r = await c.client.callTool(
      { name: "double_echo", arguments: { message: "x" } },
      undefined,
      {
        onprogress: (pr) => void seen.push(pr.progress),
      },
    );
    assert.deepEqual(r.content, [{ type: "text", text: "x" }, { type: "text", text: "x" }]);
    assert.deepEqual(seen, [1, 2]);
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});
