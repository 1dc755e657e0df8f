/** Config hot reload adds and removes backends without dropping sessions; bad configs are ignored. */
import assert from "node:assert/strict";
import { ToolListChangedNotificationSchema } from "../../core/sdk.ts";
import { createLogger } from "../../core/log.ts";
import { watchConfig } from "../../proxy/config_watch.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

const yaml = (backends: { name: string; url: string }[]) =>
  `name: reload\ngroupRef: { name: g }\nbackends:\n${
    backends.map((b) => `  - { name: ${b.name}, url: "${b.url}" }`).join("\n")
  }\n`;

Deno.test("editing the config file adds and removes backends while a session stays alive; an invalid edit is ignored", async () => {
  const one = await serveHttpBackend({ name: "one" });
  const two = await serveHttpBackend({ name: "two" });
  const dir = await Deno.makeTempDir();
  const file = `${dir}/vmcp.yaml`;
  await Deno.writeTextFile(file, yaml([{ name: "one", url: one.url }]));
  const p = await proxy(config({ name: "reload", backends: [{ name: "one", url: one.url }] }));
  const lines: string[] = [];
  const outcomes: string[] = [];
  const watcher = watchConfig({
    path: file,
    log: createLogger({ sink: (l) => lines.push(l) }),
    apply: (c) => p.reload(c),
    debounceMs: 50,
    onReload: (o) => outcomes.push(o),
  }, await Deno.readTextFile(file));
  const c = await connect(p.url);
  try {
    let changed = 0;
    c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await Deno.writeTextFile(
      file,
      yaml([{ name: "one", url: one.url }, { name: "two", url: two.url }]),
    );
    await waitFor(() => outcomes.includes("applied"), PATIENCE_MS, "reload");
    await waitFor(() => changed >= 1, PATIENCE_MS, "list_changed");
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("two_echo") && names.includes("one_echo"));
    await Deno.writeTextFile(file, "name: reload\nbackends: [{ name: 'bad name!' }]\n");
    await waitFor(() => outcomes.includes("invalid"), PATIENCE_MS, "invalid reload");
    assert.ok(
      lines.some((l) => l.includes("keeping the running config") && l.includes("backends[0].name")),
    );
    await Deno.writeTextFile(file, yaml([{ name: "two", url: two.url }]));
    await waitFor(
      () => outcomes.filter((o) => o === "applied").length === 2,
      PATIENCE_MS,
      "second reload",
    );
    const after = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(!after.includes("one_echo") && after.includes("two_echo"), String(after));
    const r = await c.client.callTool({ name: "two_echo", arguments: { message: "same session" } });
    assert.deepEqual(r.structuredContent, { message: "same session", backend: "two" });
  } finally {
    watcher.close();
    await c.close();
    await p.stop();
    await one.stop();
    await two.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
