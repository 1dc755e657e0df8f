/**
 * A replica (a real `main.ts --mode=proxy` process) that starts while a backend is down: it is
 * ready (/readyz 200: it serves, and says why it cannot serve that backend), refuses that
 * backend's tools as unavailable naming it (-32003, not "Unknown tool"), and offers them with
 * notifications/tools/list_changed as soon as a discovery succeeds.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { ToolListChangedNotificationSchema } from "../../core/sdk.ts";
import { freePort } from "../harness/ports.ts";
import { config, connect, proxy, waitFor } from "../proxy/helpers.ts";
import { startReplica, writeConfig } from "../scaleout/replicas.ts";
import { startBackendProc } from "./backend_proc.ts";
import { backendStatus, note, tryCall } from "./helpers.ts";

Deno.test({
  name:
    "a replica started while a backend is down is ready, refuses that backend's tools as unavailable (-32003 naming it), and lists them with list_changed once it is discovered",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort(); // nothing listens yet: the backend is down
    const good = await startBackendProc({ name: "good" });
    const path = await writeConfig({
      name: "outage",
      groupRef: { name: "g" },
      incomingAuth: { type: "anonymous" },
      operational: {
        timeouts: { default: "5s" },
        // The default interval: discovery retries come from the backoff, not from it.
        failureHandling: { healthCheckInterval: "30s", partialFailureMode: "best_effort" },
      },
      backends: [
        { name: "b", transport: "streamable-http", url: `http://127.0.0.1:${port}/mcp` },
        { name: "good", transport: "streamable-http", url: good.url },
      ],
    } as VmcpConfigInput);
    const replica = await startReplica("r", path); // waits for /readyz 200
    let b: Awaited<ReturnType<typeof startBackendProc>> | undefined;
    const c = await connect(replica.url);
    try {
      let changed = 0;
      c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
      const before = (await c.client.listTools()).tools.map((t) => t.name);
      assert.ok(before.includes("good_echo"), String(before));
      assert.ok(!before.some((n) => n.startsWith("b_")), String(before));

      const refused = await tryCall(c, "b_echo", { message: "x" });
      assert.equal(refused.code, -32003, refused.message);
      assert.match(refused.message, /^Backend "b" is unavailable: not discovered yet: /);
      assert.equal(refused.data?.backend, "b");
      // A name that no backend could own is still unknown.
      const unknown = await tryCall(c, "nothing_here");
      assert.equal(unknown.code, -32602, unknown.message);
      assert.match(unknown.message, /Unknown tool "nothing_here"/);

      b = await startBackendProc({ name: "b", port });
      const upAt = Date.now();
      await waitFor(() => changed >= 1, 20_000, "notifications/tools/list_changed");
      const after = (await c.client.listTools()).tools.map((t) => t.name);
      assert.ok(after.includes("b_echo") && after.includes("good_echo"), String(after));
      note(`b's tools listed ${Date.now() - upAt} ms after it started`);
      const r = await tryCall(c, "b_echo", { message: "now" });
      assert.equal(r.ok, true, r.message);
    } finally {
      await c.close();
      await replica.proc.stop(2000);
      await b?.stop();
      await good.stop();
      await Deno.remove(path.replace(/\/[^/]+$/, ""), { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "under the priority strategy an unknown tool while a backend is undiscovered is refused -32003 naming that backend",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const p = await proxy(config({
      aggregation: { conflictResolution: "priority" },
      operational: {
        timeouts: { default: "2s" },
        failureHandling: { partialFailureMode: "best_effort" },
      },
      backends: [{ name: "b", url: `http://127.0.0.1:${port}/mcp` }],
    }));
    const c = await connect(p.url);
    try {
      const r = await tryCall(c, "echo", { message: "x" });
      assert.equal(r.code, -32003, r.message);
      assert.match(
        r.message,
        /^Unknown tool "echo" \(backend\(s\) "b" \(.*\) not yet discovered\)$/,
      );
      const s = await backendStatus(p.url, "b");
      assert.ok(s, "b is on /status");
    } finally {
      await c.close();
      await p.stop();
    }
  },
});
