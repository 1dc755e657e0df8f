/**
 * Rate-limit cost per call: `deno run -A bench/rate_limit_bench.ts [--n=4000] [--http=1500]`
 *
 * Limits: `global`, `perUser` and one tool's `global` + `perUser` (every bucket a call can take
 * from; never exhausted), 100 identities in turn. Measured in one run, the variants in turn, p50:
 *
 * 1. in-process: `Router.callTool` over a backend stub answering at once (the router's own work,
 *    so the limiter's share is as large as it can be): off, in memory, in Redis (a real
 *    redis-server on loopback: one Lua script per call);
 * 2. over HTTP: a 2026-07-28 `tools/call` through a real proxy (startProxy) to a real SDK
 *    backend on loopback, off / memory / Redis / Redis session storage without limits.
 *
 * Prints JSON on stdout: µs per call and the ratio to its baseline: "off", or for "redis" over
 * HTTP the same Redis session storage without limits ("redisOff").
 * @module
 */
import { parseArgs } from "node:util";
import { Registry } from "prom-client";
import type { Identity } from "../core/auth/identity.ts";
import { systemClock } from "../core/clock.ts";
import { silentLogger } from "../core/log.ts";
import { aggregate } from "../core/aggregation/mod.ts";
import type { Tool } from "../core/sdk.ts";
import type { RateLimiting } from "../crds/rate_limit.ts";
import type { VmcpConfigInput } from "../crds/vmcp_config.ts";
import type { Backend } from "../proxy/backends/backend.ts";
import type { SessionPeer } from "../proxy/backends/connection.ts";
import { Router, type RouterState } from "../proxy/router.ts";
import { RateLimiter } from "../proxy/rate_limit/limiter.ts";
import { MemoryBuckets } from "../proxy/rate_limit/memory_buckets.ts";
import { RateLimitMetrics } from "../proxy/rate_limit/metrics.ts";
import { RedisBuckets } from "../proxy/rate_limit/redis_buckets.ts";
import { startProxy } from "../proxy/serve.ts";
import { VmcpConfigSchema } from "../crds/vmcp_config.ts";
import { startRedis } from "../tests/harness/redis.ts";
import { serveHttpBackend } from "../tests/fixtures/serve_http.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "4000" }, http: { type: "string", default: "1500" } },
});
const N = Number(values.n);
const HTTP_N = Number(values.http);

const BIG = { maxTokens: 1_000_000_000, refillPeriod: "1h" };
const LIMITS: RateLimiting = {
  global: BIG,
  perUser: BIG,
  tools: [{ name: "b0_tool_0", global: BIG, perUser: BIG }],
};

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
async function timeAsync(n: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    out.push((performance.now() - t) * 1000);
  }
  return out;
}
const users: Identity[] = Array.from({ length: 100 }, (_, i) => ({
  issuer: "https://idp.example.test",
  subject: `user-${i}`,
  claims: {},
}));

// 1. In-process router.
const tools: Tool[] = [{ name: "tool_0", inputSchema: { type: "object" } }];
const view = aggregate(
  [{ backend: "b0", tools, resources: [], resourceTemplates: [], prompts: [] }],
  undefined,
);
const result = { content: [{ type: "text", text: "ok" }] };
const stub = { request: () => Promise.resolve(result) } as unknown as Backend;
function state(rateLimits?: RateLimiter): RouterState {
  return {
    view,
    fullView: view,
    lists: { tools: view.tools, resources: [], resourceTemplates: [], prompts: [] },
    extraTools: new Map(),
    backend: () => stub,
    assertRoutable: () => {},
    failingBackends: () => [],
    ready: () => Promise.resolve(),
    undiscoveredBackends: () => [],
    rateLimits,
  };
}
const redis = await startRedis();
const metrics = new RateLimitMetrics(new Registry());
const memoryLimiter = new RateLimiter(LIMITS, new MemoryBuckets(systemClock), metrics);
const redisStore = new RedisBuckets({
  address: `127.0.0.1:${redis.port}`,
  keyPrefix: "bench:",
  fallback: new MemoryBuckets(systemClock),
  metrics,
  log: silentLogger,
  clock: systemClock,
});
while (!redisStore.connected) await new Promise((r) => setTimeout(r, 10));
const redisLimiter = new RateLimiter(LIMITS, redisStore, metrics);
const routers = {
  off: new Router(state()),
  memory: new Router(state(memoryLimiter)),
  redis: new Router(state(redisLimiter)),
};
const peers = users.map((identity, i) =>
  ({
    id: `s${i}`,
    identity,
    request: () => Promise.reject(new Error("no")),
    notify: () => Promise.resolve(),
    clientCapabilities: () => ({}),
  }) as unknown as SessionPeer
);
const extra = { requestId: 1, signal: new AbortController().signal };
const call = (r: Router) => (i: number) =>
  r.callTool(peers[i % peers.length]!, { name: "b0_tool_0", arguments: {} }, extra);

// A plain PING on a connection of its own: the round trip the Redis check cannot beat.
const { Redis } = await import("ioredis");
const pinger = new Redis({ host: "127.0.0.1", port: redis.port, lazyConnect: false });
await timeAsync(300, () => pinger.ping());
const pings = await timeAsync(1000, () => pinger.ping());
pinger.disconnect();

const inProcess: Record<string, number[]> = { off: [], memory: [], redis: [] };
for (const r of Object.values(routers)) await timeAsync(500, call(r));
// Samples of BATCH calls (timer resolution), the three routers in turn so drift hits all alike.
const BATCH = 20;
for (let i = 0; i < N / BATCH; i++) {
  for (const [k, r] of Object.entries(routers)) {
    const f = call(r);
    const t = performance.now();
    for (let j = 0; j < BATCH; j++) await f(i * BATCH + j);
    inProcess[k]!.push(((performance.now() - t) * 1000) / BATCH);
  }
}

// 2. Over HTTP, through real proxies to a real backend.
const web = await serveHttpBackend({ name: "b0" });
const base: VmcpConfigInput = {
  name: "bench-rl",
  groupRef: { name: "g" },
  backends: [{ name: "b0", url: web.url }],
};
const limitsWithTool: RateLimiting = {
  global: BIG,
  tools: [{ name: "b0_echo", global: BIG }],
};
const redisSessions = {
  sessionStorage: { provider: "redis" as const, address: `127.0.0.1:${redis.port}` },
};
const proxies = {
  off: await startProxy({ config: VmcpConfigSchema.parse(base), port: 0, log: silentLogger }),
  memory: await startProxy({
    config: VmcpConfigSchema.parse({ ...base, rateLimiting: limitsWithTool }),
    port: 0,
    log: silentLogger,
  }),
  redis: await startProxy({
    config: VmcpConfigSchema.parse({ ...base, rateLimiting: limitsWithTool, ...redisSessions }),
    port: 0,
    log: silentLogger,
  }),
  // The same Redis session storage without limits: the baseline of the Redis variant.
  redisOff: await startProxy({
    config: VmcpConfigSchema.parse({ ...base, ...redisSessions }),
    port: 0,
    log: silentLogger,
  }),
};
await Promise.all(Object.values(proxies).map((p) => p.ready));
const V = "2026-07-28";
const body = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: {
    name: "b0_echo",
    arguments: { message: "hi" },
    _meta: {
      "io.modelcontextprotocol/protocolVersion": V,
      "io.modelcontextprotocol/clientCapabilities": {},
    },
  },
});
const headers = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": V,
  "mcp-method": "tools/call",
  "mcp-name": "b0_echo",
};
const post = (url: string) => async () => {
  const res = await fetch(url, { method: "POST", headers, body });
  const j = await res.json();
  if (!j.result) throw new Error(`call failed: ${JSON.stringify(j)}`);
};
const overHttp: Record<string, number[]> = { off: [], memory: [], redis: [], redisOff: [] };
for (const p of Object.values(proxies)) await timeAsync(300, post(p.url));
// One call to each proxy in turn: load from other processes hits all three alike.
for (let i = 0; i < HTTP_N; i++) {
  for (const [k, p] of Object.entries(proxies)) {
    overHttp[k]!.push(...await timeAsync(1, post(p.url)));
  }
}
await Promise.all(Object.values(proxies).map((p) => p.stop()));
await web.stop();
await redisStore.close();
await redis.stop();

/** p50 of each variant and its ratio to its baseline ("off"; "redisOff" for "redis"). */
const summary = (xs: Record<string, number[]>) =>
  Object.fromEntries(
    Object.entries(xs).map(([k, v]) => {
      const base = k === "redis" && xs.redisOff ? xs.redisOff : xs.off!;
      return [k, {
        p50_us: Math.round(p50(v) * 10) / 10,
        ratio: Math.round((p50(v) / p50(base)) * 100) / 100,
      }];
    }),
  );
const report = {
  calls: { inProcess: N, http: HTTP_N },
  redis_ping_p50_us: Math.round(p50(pings) * 10) / 10,
  buckets_per_call: { inProcess: 4, http: 2 },
  in_process_router_call: summary(inProcess),
  http_tools_call_2026_07_28: summary(overHttp),
};
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
