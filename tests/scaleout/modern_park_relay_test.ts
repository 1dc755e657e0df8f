/**
 * A retry on another replica, end to end (ADR 0010 §4 and step 6). Two proxy processes sharing redis and VMCP_REQUEST_STATE_KEY, in front of server-everything
 * (Streamable HTTP): a 2026-07-28 call of its elicitation tool parks on replica a; the retry sent
 * to replica b completes it; duplicate retries on both replicas: exactly one answer; the owner
 * killed (SIGKILL): the retry on b gets -32602 "no longer pending".
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { getTestRedis } from "../harness/redis.ts";
import { killReplica, type Replica, startReplica, writeConfig } from "./replicas.ts";

const redis = await getTestRedis();
const V = "2026-07-28";
const TOOL = "every_trigger-elicitation-request";
let nextId = 1;

async function call(r: Replica, extra: Record<string, unknown> = {}) {
  const res = await fetch(r.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V,
      "mcp-method": "tools/call",
      "mcp-name": TOOL,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: nextId++,
      method: "tools/call",
      params: {
        name: TOOL,
        arguments: {},
        ...extra,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": V,
          "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } },
        },
      },
    }),
  });
  assert.equal(res.headers.get("content-type"), "application/json");
  return { status: res.status, json: await res.json() };
}

const accept = (name: string) => ({ v1: { action: "accept", content: { name } } });

Deno.test({
  name:
    "a parked 2026-07-28 call is completed by a retry on the other replica; duplicates answer once; the owner killed: -32602",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const every = await startEverythingHttp();
    const path = await writeConfig({
      name: "park-relay",
      groupRef: { name: "g" },
      incomingAuth: { type: "anonymous" },
      sessionStorage: {
        provider: "redis",
        address: `127.0.0.1:${redis.port}`,
        keyPrefix: `vmcp:park:${crypto.randomUUID().slice(0, 8)}:`,
      },
      backends: [{ name: "every", transport: "streamable-http", url: every.url }],
    } as VmcpConfigInput);
    const env = { VMCP_REQUEST_STATE_KEY: "k".repeat(48) };
    const [a, b] = await Promise.all([
      startReplica("a", path, { env }),
      startReplica("b", path, { env }),
    ]);
    try {
      const first = await call(a);
      assert.equal(first.json.result?.resultType, "input_required", JSON.stringify(first.json));
      const done = await call(b, {
        inputResponses: accept("Zoe"),
        requestState: first.json.result.requestState,
      });
      assert.match(JSON.stringify(done.json.result?.content), /Name: Zoe/);

      const second = (await call(a)).json.result;
      const dup = await Promise.all([
        call(a, { inputResponses: accept("One"), requestState: second.requestState }),
        call(b, { inputResponses: accept("Two"), requestState: second.requestState }),
        call(b, { inputResponses: accept("Three"), requestState: second.requestState }),
      ]);
      assert.equal(dup.filter((d) => d.json.result).length, 1, JSON.stringify(dup));
      for (const d of dup.filter((d) => d.json.error)) assert.equal(d.json.error.code, -32602);

      const third = (await call(a)).json.result;
      await killReplica(a);
      const late = await call(b, {
        inputResponses: accept("Late"),
        requestState: third.requestState,
      });
      assert.equal(late.status, 200);
      assert.equal(late.json.error?.code, -32602);
      assert.match(late.json.error?.message, /no longer pending; call again without requestState/);
    } finally {
      await Promise.all([a, b].map((r) => r.proc.stop(5_000)));
      await every.stop();
    }
  },
});
