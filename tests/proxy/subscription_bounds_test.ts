/**
 * A legacy session cannot make vmcp hold unbounded resource subscriptions: past 256 distinct
 * URIs, or with a URI over 4096 characters, `resources/subscribe` is refused -32602 naming the
 * bound, the session keeps working and unsubscribing makes room again. Real server-everything
 * over stdio and a real SDK client.
 * @module
 */
import assert from "node:assert/strict";
import { McpError } from "../../core/sdk.ts";
import { connect, proxyBeforeEverything } from "./helpers.ts";

Deno.test("subscriptions: a legacy session holds at most 256 subscriptions of URIs up to 4096 characters", async () => {
  const p = await proxyBeforeEverything();
  const c = await connect(p.url);
  try {
    const templates = (await c.client.listResourceTemplates()).resourceTemplates;
    const template = templates.map((t) => t.uriTemplate).find((t) => /\{[^}]+\}$/.test(t));
    assert.ok(template, `a template ending in a variable: ${JSON.stringify(templates)}`);
    const uri = (i: number | string) => template.replace(/\{[^}]+\}$/, String(i));

    for (let i = 1; i <= 256; i++) await c.client.subscribeResource({ uri: uri(i) });
    // The same URI again is not a new subscription.
    await c.client.subscribeResource({ uri: uri(1) });

    const refused = await c.client.subscribeResource({ uri: uri(257) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof McpError, `refused: ${refused}`);
    assert.equal(refused.code, -32602);
    assert.match(refused.message, /at most 256/);

    const long = await c.client.subscribeResource({ uri: uri("x".repeat(5000)) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(long instanceof McpError, `long: ${long}`);
    assert.equal(long.code, -32602);
    assert.match(long.message, /at most 4096/);

    // Unsubscribing makes room; the session still works.
    await c.client.unsubscribeResource({ uri: uri(1) });
    await c.client.subscribeResource({ uri: uri(257) });
    assert.ok((await c.client.listTools()).tools.length > 0);
  } finally {
    await c.close();
    await p.stop();
  }
});
