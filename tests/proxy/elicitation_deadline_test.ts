/**
 * A backend call's deadline (`operational.timeouts`) stops while the backend waits for the
 * client (ADR 0010 §4): a person may take longer to answer an elicitation than any backend
 * should take to answer a call. Real parts: a legacy SDK client, the proxy, and
 * server-everything over its own Streamable HTTP transport.
 */
import assert from "node:assert/strict";
import { ElicitRequestSchema } from "../../core/sdk.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { config, connect, proxy } from "./helpers.ts";

const TIMEOUT_MS = 5_000;

Deno.test("an elicitation answered later than the backend timeout still completes the call", async () => {
  const every = await startEverythingHttp();
  const p = await proxy(config({
    operational: { timeouts: { default: `${TIMEOUT_MS}ms` } },
    backends: [{ name: "every", url: every.url }],
  }));
  const c = await connect(p.url, { capabilities: { elicitation: {} } });
  try {
    let asked = 0;
    c.client.setRequestHandler(ElicitRequestSchema, async () => {
      asked++;
      // The person takes a while: well past the backend timeout.
      await new Promise((r) => setTimeout(r, TIMEOUT_MS * 2.5));
      return { action: "accept", content: { name: "Zoe" } };
    });
    const r = await c.client.callTool(
      { name: "every_trigger-elicitation-request", arguments: {} },
      undefined,
      { timeout: 60_000 },
    );
    assert.equal(asked, 1);
    assert.ok(!r.isError, JSON.stringify(r));
    assert.match(JSON.stringify(r.content), /Name: Zoe/);

    // The deadline is armed again after the answer: a call still cannot run forever.
    const slow = await c.client.callTool(
      { name: "every_trigger-long-running-operation", arguments: { duration: 60, steps: 2 } },
      undefined,
      { timeout: 60_000 },
    ).then((x) => JSON.stringify(x), (e) => String(e));
    assert.match(slow, new RegExp(`timed out after ${TIMEOUT_MS} ms`));
  } finally {
    await c.close();
    await p.stop();
    await every.stop();
  }
});
