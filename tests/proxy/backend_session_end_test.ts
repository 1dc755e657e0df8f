/**
 * A client session's backend sessions end with it: a client DELETE (and a proxy shutdown with
 * the in-process session store) sends DELETE to each backend session it opened, so backends do
 * not collect sessions. Real SDK backends count their open sessions.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, proxy, waitFor } from "./helpers.ts";

Deno.test("a client DELETE ends the backend sessions the client session opened", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const docs = await serveHttpBackend({ name: "docs" });
  const p = await proxy(config({
    backends: [{ name: "web", url: web.url }, { name: "docs", url: docs.url }],
  }));
  try {
    const base = [web.sessions(), docs.sessions()]; // discovery's shared sessions
    const a = await connect(p.url);
    const b = await connect(p.url);
    for (const c of [a, b]) {
      await c.client.callTool({ name: "web_echo", arguments: { message: "x" } });
      await c.client.callTool({ name: "docs_echo", arguments: { message: "x" } });
    }
    assert.deepEqual([web.sessions(), docs.sessions()], [base[0]! + 2, base[1]! + 2]);

    await a.close(); // DELETE
    await waitFor(() => web.sessions() === base[0]! + 1 && docs.sessions() === base[1]! + 1);
    // The other client session and its backend sessions are untouched.
    const r = await b.client.callTool({ name: "web_echo", arguments: { message: "still" } });
    assert.match(JSON.stringify(r), /still/);
    assert.equal(web.sessions(), base[0]! + 1);
    await b.close();
    await waitFor(() => web.sessions() === base[0]! && docs.sessions() === base[1]!);
  } finally {
    await p.stop();
    await web.stop();
    await docs.stop();
  }
});

Deno.test("stopping a proxy with the in-process store ends the backend sessions of its clients", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  const c = await connect(p.url);
  try {
    await c.client.callTool({ name: "web_echo", arguments: { message: "x" } });
    assert.equal(web.sessions(), 2, "discovery's session and the client's");
    await p.stop();
    // The shared (discovery) connection is closed without a DELETE: nothing else used it.
    await waitFor(() => web.sessions() <= 1);
  } finally {
    await c.client.close();
    await p.stop();
    await web.stop();
  }
});
