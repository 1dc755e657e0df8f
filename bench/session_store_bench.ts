/**
 * Session store cost: `deno run -A bench/session_store_bench.ts [--lookups=20000] [--sessions=1000]`
 *
 * 1. Per-lookup latency (p50/p99, µs) of `get` on the Redis store (GETEX over loopback) versus
 *    the memory store, sequential, plus Redis throughput at 16 lookups in flight.
 * 2. 1,000 concurrent sessions over two replicas: the reference front door of
 *    `proxy/sessions/_test_replica.ts` (shared Redis store + LRU + restore with a replayed
 *    initialize) behind the round-robin balancer, so every other request of a session lands
 *    on the replica that did not create it. Replace the test replicas by two real `vmcp`
 *    processes once the proxy integrates the store (see `howToRunWithTheProxy` in the output).
 *
 * Prints one JSON object on stdout. Uses `VMCP_BENCH_REDIS_URL` when set, else starts a
 * redis-server on a free loopback port.
 * @module
 */
import { parseArgs } from "node:util";
import { startRedis } from "../tests/harness/redis.ts";
import { startBalancer } from "../tests/fixtures/balancer.ts";
import { MemorySessionStore } from "../proxy/sessions/memory_store.ts";
import { connectRedisSessionStore } from "../proxy/sessions/redis_store.ts";
import type { SessionRecord, SessionStore } from "../proxy/sessions/store.ts";
import { startTestReplica } from "../proxy/sessions/_test_replica.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lookups: { type: "string", default: "20000" },
    sessions: { type: "string", default: "1000" },
    calls: { type: "string", default: "4" },
  },
});
const LOOKUPS = Number(values.lookups);
const SESSIONS = Number(values.sessions);
const CALLS = Number(values.calls);

function stats(samplesMs: number[]) {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const us = (ms: number) => Math.round(ms * 1000 * 10) / 10;
  return {
    n: s.length,
    p50_us: us(at(0.5)),
    p90_us: us(at(0.9)),
    p99_us: us(at(0.99)),
    mean_us: us(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

function record(id: string): SessionRecord {
  return {
    id,
    identityKey: "https://issuer.example\u0000user-" + id.slice(0, 8),
    protocolVersion: "2025-11-25",
    clientInfo: { name: "bench-client", version: "1.0.0" },
    clientCapabilities: { roots: { listChanged: true }, sampling: {}, elicitation: { form: {} } },
    backendSessions: {
      github: crypto.randomUUID(),
      jira: crypto.randomUUID(),
      fs: crypto.randomUUID(),
    },
    subscriptions: ["file:///workspace/README.md"],
    createdAt: Date.now(),
    lastSeen: Date.now(),
  };
}

async function lookupLatency(store: SessionStore, ids: string[]) {
  for (let i = 0; i < Math.min(2000, LOOKUPS); i++) await store.get(ids[i % ids.length]!);
  const samples: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const id = ids[(i * 7919) % ids.length]!;
    const t0 = performance.now();
    const got = await store.get(id);
    samples.push(performance.now() - t0);
    if (typeof got !== "object") throw new Error(`bench: session ${id} missing from ${store.kind}`);
  }
  return stats(samples);
}

async function inFlight(store: SessionStore, ids: string[], concurrency: number) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < LOOKUPS) await store.get(ids[next++ % ids.length]!);
  }));
  return { concurrency, lookupsPerSecond: Math.round(LOOKUPS / ((performance.now() - t0) / 1000)) };
}

const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

async function rpc(url: string, body: unknown, session?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: session
      ? { ...MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" }
      : MCP_HEADERS,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 202) {
    throw new Error(`bench: HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  return { res, text };
}

async function twoReplicas(address: string, password: string | undefined) {
  const mk = () => connectRedisSessionStore({ address, password, keyPrefix: "bench:replicas:" });
  const [sa, sb] = await Promise.all([mk(), mk()]);
  const a = startTestReplica({ name: "a", store: sa });
  const b = startTestReplica({ name: "b", store: sb });
  const lb = await startBalancer([a.origin, b.origin]);
  const url = `${lb.url}/mcp`;
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: SESSIONS }, async (_, i) => {
      try {
        const init = await rpc(url, {
          jsonrpc: "2.0",
          id: 0,
          method: "initialize",
          params: {
            protocolVersion: "2025-11-25",
            capabilities: {},
            clientInfo: { name: `c${i}`, version: "1" },
          },
        });
        const sid = init.res.headers.get("mcp-session-id")!;
        await rpc(url, { jsonrpc: "2.0", method: "notifications/initialized" }, sid);
        for (let c = 0; c < CALLS; c++) {
          const t = performance.now();
          const { text } = await rpc(url, {
            jsonrpc: "2.0",
            id: c + 1,
            method: "tools/call",
            params: { name: "whoami", arguments: {} },
          }, sid);
          latencies.push(performance.now() - t);
          if (!text.includes(sid)) throw new Error("bench: answered for another session");
        }
      } catch {
        errors++;
      }
    }));
  } finally {
    await lb.stop();
    await a.stop();
    await b.stop();
    await sa.close();
    await sb.close();
  }
  return {
    sessions: SESSIONS,
    callsPerSession: CALLS,
    wallSeconds: Math.round((performance.now() - t0) / 10) / 100,
    errors,
    restores: { a: a.stats.restores, b: b.stats.restores },
    created: { a: a.stats.created, b: b.stats.created },
    requestsPerReplica: Object.fromEntries(lb.counts),
    callLatency: stats(latencies),
  };
}

const sharedUrl = Deno.env.get("VMCP_BENCH_REDIS_URL");
const own = sharedUrl ? undefined : await startRedis();
const redisUrl = new URL(sharedUrl ?? own!.url);
const address = `${redisUrl.hostname}:${redisUrl.port || 6379}`;
const password = redisUrl.password ? decodeURIComponent(redisUrl.password) : undefined;
try {
  const ids = Array.from({ length: SESSIONS }, () => crypto.randomUUID());
  const memory = new MemorySessionStore();
  const redis = await connectRedisSessionStore({ address, password, keyPrefix: "bench:lookup:" });
  const piped = await connectRedisSessionStore({
    address,
    password,
    keyPrefix: "bench:lookup:",
    autoPipelining: true,
  });
  for (const id of ids) {
    await memory.create(record(id));
    await redis.create(record(id));
  }
  const recordBytes = new TextEncoder().encode(JSON.stringify(record(ids[0]!))).length;
  const mem = await lookupLatency(memory, ids);
  const red = await lookupLatency(redis, ids);
  const out = {
    bench: "session_store",
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    redis: sharedUrl ? "VMCP_BENCH_REDIS_URL" : "local redis-server (loopback)",
    recordBytes,
    lookup: {
      memory: mem,
      redis: red,
      ratioP50: Math.round((red.p50_us / Math.max(mem.p50_us, 0.1)) * 10) / 10,
      redisOverheadP50_us: Math.round((red.p50_us - mem.p50_us) * 10) / 10,
      targetP50_us: 150,
      meetsTarget: red.p50_us <= 150,
    },
    redisInFlight: [await inFlight(redis, ids, 16), {
      ...(await inFlight(piped, ids, 16)),
      autoPipelining: true,
    }],
    twoReplicas: await twoReplicas(address, password),
    howToRunWithTheProxy: [
      "Start redis-server and two proxies with the same config plus",
      "  sessionStorage: {provider: redis, address: 127.0.0.1:6379, ttl: 30m}",
      "  (vmcp --mode=proxy --config=cfg.yaml --port=18081 and --port=18082),",
      "put tests/fixtures/balancer.ts startBalancer(['http://127.0.0.1:18081','http://127.0.0.1:18082'])",
      "in front, and point N MCP clients (SDK Client + StreamableHTTPClientTransport with",
      "createBackendFetch) at <balancer>/mcp; every other request then lands on the replica that",
      "did not create the session. Pass: 0 errors, restores ≈ sessions per replica (once each),",
      "and call p50 within the proxy's single-replica p50 + the Redis lookup p50 above.",
    ],
  };
  await memory.close();
  await redis.close();
  await piped.close();
  // deno-lint-ignore no-console
  console.log(JSON.stringify(out, null, 2));
} finally {
  await own?.stop();
}
