/**
 * No "Unknown tool" window while a backend turns routable again: calls hammered across the
 * transition are either refused as unavailable (-32003 naming the backend) or routed, never
 * answered -32602 Unknown tool.
 */
import assert from "node:assert/strict";
import { config, connect, type Connected, proxy, waitFor } from "../proxy/helpers.ts";
import { startBackendProc } from "./backend_proc.ts";
import { backendStatus, type CallOutcome, note, tryCall } from "./helpers.ts";

Deno.test({
  name:
    "calls hammered while a restarted backend turns routable again are refused as unavailable or served, never Unknown tool",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const b = await startBackendProc({ name: "b", jsonResponse: true });
    const p = await proxy(config({
      operational: {
        timeouts: { default: "5s" },
        failureHandling: {
          healthCheckInterval: "1s",
          unhealthyThreshold: 1,
          partialFailureMode: "best_effort",
        },
      },
      backends: [{ name: "b", url: b.url }],
    }));
    const clients: Connected[] = [];
    let running = true;
    const outcomes: CallOutcome[] = [];
    let loops: Promise<void>[] = [];
    try {
      for (let i = 0; i < 6; i++) clients.push(await connect(p.url));
      assert.equal((await tryCall(clients[0]!, "b_echo", { message: "x" })).ok, true);
      for (let round = 0; round < 3; round++) {
        await b.kill();
        await waitFor(
          async () => (await backendStatus(p.url, "b"))?.status === "unavailable",
          20_000,
          "b unavailable",
        );
        running = true;
        let okAfter = 0;
        loops = clients.map(async (c, i) => {
          let seq = 0;
          while (running) {
            const o = await tryCall(c, "b_work", { client: `c${i}`, seq: seq++ }, 20_000);
            outcomes.push(o);
            if (o.ok) okAfter++;
          }
        });
        await new Promise((r) => setTimeout(r, 300));
        await b.restart();
        await waitFor(() => okAfter >= 30, 30_000, `calls served again (round ${round})`);
        running = false;
        await Promise.all(loops);
      }
      const unknown = outcomes.filter((o) => o.code === -32602);
      assert.equal(unknown.length, 0, `Unknown tool answers: ${JSON.stringify(unknown[0])}`);
      const failed = outcomes.filter((o) => !o.ok);
      for (const f of failed) {
        assert.equal(f.code, -32003, f.message);
        assert.match(f.message, /^Backend "b" is unavailable: /);
      }
      note(
        `${outcomes.length} calls across 3 re-routable transitions: ${failed.length} refused (-32003), 0 unknown`,
      );
    } finally {
      running = false;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.close()));
      await p.stop();
      await b.stop();
    }
  },
});
