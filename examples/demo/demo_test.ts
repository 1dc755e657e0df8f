import assert from "node:assert/strict";
import { parse } from "yaml";
import { Client, StdioClientTransport } from "../../core/sdk.ts";
import { loadConfigFile } from "../../core/config/load.ts";
import { denoChildEnv, repoRoot } from "../../tests/fixtures/everything.ts";

interface DemoBackend {
  name: string;
  transport: string;
  command: string;
  args: string[];
}

const config = parse(
  await Deno.readTextFile(new URL("./vmcp.yaml", import.meta.url)),
) as { backends: DemoBackend[] };

async function withBackend(name: string, fn: (client: Client) => Promise<void>): Promise<void> {
  const backend = config.backends.find((b) => b.name === name);
  assert.ok(backend, `vmcp.yaml has no backend "${name}"`);
  assert.equal(backend.transport, "stdio");
  const client = new Client({ name: "demo-check", version: "1.0.0" });
  // The exact command line of vmcp.yaml, run from the repository root, with the stripped
  // environment a stdio client gives its child (plus Deno's cache location).
  await client.connect(
    new StdioClientTransport({
      command: backend.command,
      args: backend.args,
      cwd: repoRoot,
      env: denoChildEnv(),
    }),
  );
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

const textOf = (r: Record<string, unknown>) =>
  (r.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("\n");

Deno.test("the weather demo server starts from vmcp.yaml's command and forecasts offline", async () => {
  await withBackend("weather", async (client) => {
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ["convert_temperature", "get_forecast", "search"]);
    const f = await client.callTool({
      name: "get_forecast",
      arguments: { city: "lisbon", days: 2 },
    });
    assert.equal((f.structuredContent as { days: unknown[] }).days.length, 2);
    const c = await client.callTool({
      name: "convert_temperature",
      arguments: { value: 100, from: "C", to: "F" },
    });
    assert.match(textOf(c), /= 212 °F/);
    const s = await client.callTool({ name: "search", arguments: { query: "os" } });
    assert.match(textOf(s), /Oslo/);
    const bad = await client.callTool({ name: "get_forecast", arguments: { city: "Atlantis" } });
    assert.equal(bad.isError, true);
  });
});

Deno.test("the notes demo server starts from vmcp.yaml's command and finds what was added", async () => {
  await withBackend("notes", async (client) => {
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ["add_note", "list_notes", "search"]);
    await client.callTool({
      name: "add_note",
      arguments: { title: "Groceries", body: "buy oat milk", tags: ["home"] },
    });
    assert.match(
      textOf(await client.callTool({ name: "search", arguments: { query: "oat" } })),
      /Groceries/,
    );
    const listed = await client.callTool({ name: "list_notes", arguments: { tag: "home" } });
    assert.match(textOf(listed), /#2 Groceries \[home\]/);
  });
});

Deno.test("the demo vmcp.yaml passes the proxy config loader", async () => {
  const loaded = await loadConfigFile(new URL("./vmcp.yaml", import.meta.url).pathname);
  assert.deepEqual(loaded.backends.map((b) => b.name), ["weather", "notes"]);
});
