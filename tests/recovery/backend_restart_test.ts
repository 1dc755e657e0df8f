/**
 * A backend process killed and restarted on the same port (it forgets every backend session):
 * the proxy serves it again within seconds, not at the next full health-check interval; calls
 * in flight at the kill fail at once saying their outcome is unknown; calls after it say the
 * request was not sent; refusals name the current reason once.
 */
import assert from "node:assert/strict";
import { config, connect, proxy, waitFor } from "../proxy/helpers.ts";
import { startBackendProc } from "./backend_proc.ts";
import { backendStatus, note, repeats, tryCall } from "./helpers.ts";

for (const jsonResponse of [false, true]) {
  const mode = jsonResponse ? "JSON answers" : "SSE answers";
  Deno.test({
    name:
      `a backend restarted on the same port is served again within seconds although health checks run only every 60 s (${mode}); in-flight calls fail at once as outcome unknown`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const b = await startBackendProc({ name: "b", jsonResponse });
      const p = await proxy(config({
        operational: {
          timeouts: { default: "30s" },
          failureHandling: {
            healthCheckInterval: "60s",
            unhealthyThreshold: 2,
            partialFailureMode: "best_effort",
          },
        },
        backends: [{ name: "b", url: b.url }],
      }));
      const c = await connect(p.url);
      const c2 = await connect(p.url);
      try {
        assert.equal((await tryCall(c, "b_echo", { message: "before" })).ok, true);
        // Warm the shared connection too (the probe's), so it holds a backend session id.
        await p.runtime.health.get("b")!.probeOnce();

        // A call in flight when the backend dies: it ran (or may have), so "outcome unknown",
        // and it fails at once, not at the 30 s deadline.
        const inflight = tryCall(c, "b_work", { client: "c", seq: 1, ms: 5000 });
        // With a progress token the proxy relays progress: the SDK's request path, not the lean.
        // (Its own session: a connection that breaks fails its other calls "connection closed".)
        const withProgress = c2.client.callTool(
          { name: "b_slow", arguments: { ms: 5000, steps: 50 } },
          undefined,
          { onprogress: () => {}, timeout: 60_000 },
        ).then(() => "answered", (e: Error) => e.message);
        await new Promise((r) => setTimeout(r, 700)); // the requests reached the backend
        const killedAt = Date.now();
        await b.kill();
        const lost = await inflight;
        const failedAfter = Date.now() - killedAt;
        const progressLost = await withProgress;
        const progressFailedAfter = Date.now() - killedAt;
        assert.match(progressLost, /Backend "b" is unavailable/);
        assert.ok(
          progressFailedAfter < 10_000,
          `SDK-path call failed ${progressFailedAfter} ms after the kill (deadline 30 s)`,
        );
        assert.equal(lost.ok, false);
        assert.equal(lost.code, -32003, lost.message);
        assert.match(lost.message, /^Backend "b" is unavailable: .*outcome is unknown/);
        assert.equal(lost.data?.outcome, "unknown");
        assert.ok(failedAfter < 10_000, `in-flight call failed ${failedAfter} ms after the kill`);

        // Next call: nothing reached the backend.
        const refused = await tryCall(c, "b_echo", { message: "down" });
        assert.equal(refused.ok, false);
        assert.equal(refused.code, -32003);
        assert.match(refused.message, /^Backend "b" is unavailable: /);
        assert.equal(refused.data?.outcome, "not-sent", refused.message);

        await waitFor(
          async () => (await backendStatus(p.url, "b"))?.status === "unavailable",
          20_000,
          "b unavailable",
        );
        const during = await tryCall(c, "b_echo", { message: "during" });
        assert.equal(during.code, -32003);
        // Refused by health: not sent, whatever the last failure was (its reason, once).
        assert.match(
          during.message,
          /^Backend "b" is unavailable: the request was not sent \(marked unavailable by earlier failures: /,
        );
        assert.equal(during.data?.outcome, "not-sent");
        assert.ok(!repeats(during.message), during.message);
        assert.doesNotMatch(during.message, /outcome is unknown/);

        await new Promise((r) => setTimeout(r, 3000)); // an outage of a few seconds
        await b.restart();
        const restartedAt = Date.now();
        // Served again well before the next 60 s health check (the old session id is gone on
        // the backend: the probe re-initializes instead of failing on 404).
        let last: Awaited<ReturnType<typeof tryCall>> | undefined;
        await waitFor(
          async () => {
            last = await tryCall(c, "b_echo", { message: "after" });
            return last.ok;
          },
          20_000,
          "b served again",
        );
        const recoveredIn = Date.now() - restartedAt;
        assert.deepEqual(
          (last!.result as { structuredContent: unknown }).structuredContent,
          { message: "after", backend: "b" },
        );
        note(`[${mode}] served again ${recoveredIn} ms after the restart`);
        const tools = (await c.client.listTools()).tools.map((t) => t.name);
        assert.ok(tools.includes("b_echo"), String(tools));
      } finally {
        await c2.close();
        await c.close();
        await p.stop();
        await b.stop();
      }
    },
  });
}
