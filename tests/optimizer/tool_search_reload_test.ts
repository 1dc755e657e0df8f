/**
 * Tool search follows config reloads without a restart (in-process proxy, real SDK backends and
 * client): turning `optimizer` on tells clients their list changed and leaves them find_tool and
 * call_tool; a backend added by a reload is found; turning it off brings the full list back.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "../proxy/helpers.ts";
import { ToolListChangedNotificationSchema } from "../../core/sdk.ts";

Deno.test("tool search: a reload turns the optimizer on and off and the index follows the backends it adds", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const notes = await serveHttpBackend({ name: "notes" });
  const base = { backends: [{ name: "web", url: web.url }] };
  const p = await proxy(config(base));
  const c = await connect(p.url);
  let changed = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changed++;
  });
  const names = async () => (await c.client.listTools()).tools.map((t) => t.name);
  const find = async (q: string) => {
    const r = await c.client.callTool({ name: "find_tool", arguments: { tool_description: q } });
    const text = (r.content as { text: string }[])[0]!.text;
    return (JSON.parse(text).tools as { name: string }[]).map((t) => t.name);
  };
  try {
    assert.ok((await names()).includes("web_echo"));
    await p.reload(config({ ...base, optimizer: {} }));
    await waitFor(() => changed > 0, PATIENCE_MS, "tools/list_changed");
    assert.deepEqual(await names(), ["call_tool", "find_tool"]);
    assert.ok((await find("increment the counter")).includes("web_counter"));
    assert.ok(!(await find("increment the counter")).includes("notes_counter"));

    await p.reload(config({
      backends: [{ name: "web", url: web.url }, { name: "notes", url: notes.url }],
      optimizer: {},
    }));
    await waitFor(
      async () => (await find("increment the counter")).includes("notes_counter"),
      PATIENCE_MS,
      "notes_counter to be found",
    );

    const before = changed;
    await p.reload(config(base));
    await waitFor(() => changed > before, PATIENCE_MS, "tools/list_changed");
    const all = await names();
    assert.ok(all.includes("web_echo") && !all.includes("find_tool"));
  } finally {
    await c.close();
    await p.stop();
    await Promise.all([web.stop(), notes.stop()]);
  }
});
