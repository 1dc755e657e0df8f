/**
 * The circuit breaker fed by real call failures, through the proxy with a real backend process:
 * it opens on call failures (tools leave tools/list, calls are refused naming the breaker), goes
 * half-open after its timeout, and a CALL can be the half-open trial, so with health checks off
 * (`healthCheckInterval: 0s`) a backend that failed comes back; its tools return to tools/list
 * with notifications/tools/list_changed.
 */
import assert from "node:assert/strict";
import { ToolListChangedNotificationSchema } from "../../core/sdk.ts";
import { config, connect, proxy, waitFor } from "../proxy/helpers.ts";
import { startBackendProc } from "./backend_proc.ts";
import { backendStatus, tryCall } from "./helpers.ts";

interface Case {
  title: string;
  interval: string;
  breaker: boolean;
}

const CASES: Case[] = [
  { title: "health checks off, breaker on", interval: "0s", breaker: true },
  { title: "health checks every 1s, breaker on", interval: "1s", breaker: true },
  { title: "health checks off, no breaker (unhealthy by calls)", interval: "0s", breaker: false },
];

for (const k of CASES) {
  Deno.test({
    name:
      `${k.title}: call failures take the backend out, a call after its restart brings it back and its tools return with list_changed`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const b = await startBackendProc({ name: "b", jsonResponse: true });
      const p = await proxy(config({
        operational: {
          timeouts: { default: "5s" },
          failureHandling: {
            healthCheckInterval: k.interval,
            unhealthyThreshold: k.breaker ? 10 : 2,
            partialFailureMode: "best_effort",
            circuitBreaker: { enabled: k.breaker, failureThreshold: 2, timeout: "1s" },
          },
        },
        backends: [{ name: "b", url: b.url }],
      }));
      const c = await connect(p.url);
      const names = async () => (await c.client.listTools()).tools.map((t) => t.name);
      try {
        let changed = 0;
        c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
        assert.equal((await tryCall(c, "b_echo", { message: "up" })).ok, true);
        assert.ok((await names()).includes("b_echo"));

        await b.kill();
        // Two failed calls open the breaker (or make b unhealthy): nothing else probes.
        for (let i = 0; i < 2; i++) {
          const f = await tryCall(c, "b_echo", { message: `fail ${i}` });
          assert.equal(f.code, -32003, f.message);
        }
        const status = await backendStatus(p.url, "b");
        assert.equal(status?.status, "unavailable", JSON.stringify(status));
        if (k.breaker) assert.equal(status?.circuitBreakerState, "open");
        const refused = await tryCall(c, "b_echo", { message: "refused" });
        assert.equal(refused.code, -32003);
        assert.match(
          refused.message,
          k.breaker
            ? /^Backend "b" is unavailable: the request was not sent \(marked unavailable by earlier failures: Circuit breaker OPEN - /
            : /^Backend "b" is unavailable: the request was not sent \(/,
        );
        await waitFor(async () => !(await names()).includes("b_echo"), 10_000, "b's tools gone");
        const changesWhileDown = changed;

        await b.restart();
        // A call is let through as the trial (half-open after 1 s, or the checks-off backoff).
        await waitFor(
          async () => (await tryCall(c, "b_echo", { message: "back" })).ok,
          20_000,
          "a call served again",
        );
        await waitFor(async () => (await names()).includes("b_echo"), 10_000, "b's tools back");
        await waitFor(() => changed > changesWhileDown, 10_000, "list_changed after recovery");
        const after = await backendStatus(p.url, "b");
        assert.notEqual(after?.status, "unavailable", JSON.stringify(after));
        if (k.breaker) assert.equal(after?.circuitBreakerState, "closed");
      } finally {
        await c.close();
        await p.stop();
        await b.stop();
      }
    },
  });
}
