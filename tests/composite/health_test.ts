/**
 * Composite tools follow the health of the backends their steps call: while one is not
 * routable the composite tool leaves `tools/list` (clients get `tools/list_changed`) and calls
 * to it fail naming the backend, as calls to that backend's own tools do; it comes back with
 * the backend. Composite tools on healthy backends only (or on none) stay listed throughout.
 */
import assert from "node:assert/strict";
import { McpError, ToolListChangedNotificationSchema } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/mod.ts";
import { FAST_FAILOVER, Forwarder, portOf, proxy } from "../proxy/helpers.ts";
import { config, connect, PATIENCE_MS, textOf, waitFor } from "./helpers.ts";

Deno.test("a composite tool leaves tools/list while a backend of its steps is unhealthy and comes back with it", async () => {
  const alpha = await serveHttpBackend({ name: "alpha" });
  let beta = await serveHttpBackend({ name: "beta" });
  const fwd = new Forwarder(portOf(beta.url));
  const p = await proxy(config({
    operational: FAST_FAILOVER,
    backends: [{ name: "alpha", url: alpha.url }, { name: "beta", url: fwd.url }],
    compositeTools: [
      {
        name: "both",
        description: "Echoes on alpha, then on beta",
        steps: [
          { id: "a", tool: "alpha_echo", arguments: { message: "a" } },
          { id: "b", tool: "beta.echo", arguments: { message: "b" }, dependsOn: ["a"] },
        ],
      },
      {
        name: "alpha_only",
        description: "Echoes on alpha",
        steps: [{ id: "a", tool: "alpha_echo", arguments: { message: "a" } }],
      },
      {
        name: "ask_only",
        description: "Only asks the user",
        steps: [{ id: "ask", type: "elicitation", message: "ok?" }],
      },
    ],
  }));
  const c = await connect(p.url);
  let changed = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
  const names = async () => (await c.client.listTools()).tools.map((t) => t.name);
  try {
    const before = await names();
    for (const n of ["both", "alpha_only", "ask_only", "beta_echo"]) {
      assert.ok(before.includes(n), `${n} listed at start: ${before}`);
    }
    const ok = await c.client.callTool({ name: "both", arguments: {} });
    assert.equal(ok.isError, undefined, textOf(ok));

    // Beta dies: its tools and the composite calling it disappear; the others stay.
    const changedBeforeKill = changed;
    fwd.kill();
    await beta.stop();
    const during = await waitFor<string[] | undefined>(
      async () => {
        const n = await names();
        return n.includes("both") ? undefined : n;
      },
      PATIENCE_MS,
      "the composite tool to leave tools/list",
    ) as string[];
    assert.ok(!during.includes("beta_echo"), String(during));
    assert.ok(during.includes("alpha_only") && during.includes("ask_only"), String(during));
    assert.deepEqual(during, [...during].sort(), "tools/list stays sorted by name");
    await waitFor(() => changed > changedBeforeKill, PATIENCE_MS, "tools/list_changed on hiding");
    await assert.rejects(c.client.callTool({ name: "both", arguments: {} }), (e: unknown) => {
      assert.ok(e instanceof McpError, String(e));
      assert.equal(e.code, -32003);
      assert.match(e.message, /Backend "beta" is unavailable/);
      return true;
    });
    // The same error as a call to the unhealthy backend's own tool.
    await assert.rejects(
      c.client.callTool({ name: "beta_echo", arguments: { message: "x" } }),
      (e: unknown) => e instanceof McpError && e.code === -32003 && /"beta"/.test(e.message),
    );
    const still = await c.client.callTool({ name: "alpha_only", arguments: {} });
    assert.equal(still.isError, undefined, textOf(still));

    // Beta comes back: so does the composite tool, and it works again.
    const changedBeforeRestart = changed;
    beta = await serveHttpBackend({ name: "beta" });
    fwd.restart(portOf(beta.url));
    const after = await waitFor<string[] | undefined>(
      async () => {
        const n = await names();
        return n.includes("both") ? n : undefined;
      },
      PATIENCE_MS,
      "the composite tool to come back",
    ) as string[];
    assert.ok(after.includes("beta_echo") && after.includes("alpha_only"), String(after));
    assert.deepEqual(after, before, "the same list as before the failure");
    await waitFor(
      () => changed > changedBeforeRestart,
      PATIENCE_MS,
      "tools/list_changed on return",
    );
    const again = await c.client.callTool({ name: "both", arguments: {} });
    assert.equal(again.isError, undefined, textOf(again));
    assert.deepEqual(again.structuredContent, { message: "b", backend: "beta" });
  } finally {
    await c.close();
    await p.stop();
    fwd.kill();
    await beta.stop();
    await alpha.stop();
  }
});
