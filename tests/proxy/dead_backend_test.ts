/**
 * Issue #17 item 1: a backend that dies or stops being routable while a call runs. The caller
 * gets `-32003` naming the backend as soon as vmcp can know (the answer stream broke, the
 * process exited, health checks marked the backend unavailable), not the backend timeout
 * (300 s here, longer than every wait of these tests: before the fix they failed).
 *
 * Behind vmcp: the third-party `@modelcontextprotocol/server-everything` over Streamable HTTP
 * (its event store makes every answer stream resumable) and over stdio, its
 * `trigger-long-running-operation` tool running for 10 minutes. Callers: a legacy v1 SDK
 * client on the lean path (no progress token) and on the SDK path (with one), and raw
 * 2026-07-28 requests with and without a progress token.
 */
import assert from "node:assert/strict";
import { McpError } from "../../core/sdk.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { SseReader } from "../harness/sse_reader.ts";
import { config, connect, type Connected, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

const TOOL = "every_trigger-long-running-operation";
/** One progress notification a second for 10 minutes: never done within a test. */
const LONG = { duration: 600, steps: 600 };
const V = "2026-07-28";
/** The backend timeout: far longer than any wait here, so it never explains an error. */
const TIMEOUTS = { default: "300s" };

interface Outcome {
  code?: number;
  message: string;
  data?: Record<string, unknown>;
}

/** The error a call ended with (a result is a test failure). */
function failed(p: Promise<unknown>): Promise<Outcome> {
  return p.then(
    (r) => ({ message: `unexpected result ${JSON.stringify(r).slice(0, 200)}` }),
    (e) =>
      e instanceof McpError
        ? { code: e.code, message: e.message, data: e.data as Record<string, unknown> }
        : { message: String(e) },
  );
}

/** A legacy call; `onFirstProgress` set: with a progress token (the SDK path), else lean. */
function legacyCall(c: Connected, onFirstProgress?: () => void): Promise<Outcome> {
  let first = true;
  return failed(c.client.callTool({ name: TOOL, arguments: LONG }, undefined, {
    timeout: 2 * PATIENCE_MS,
    ...(onFirstProgress
      ? {
        onprogress: () => {
          if (first) onFirstProgress();
          first = false;
        },
      }
      : {}),
  }));
}

/** A raw 2026-07-28 `tools/call` (SSE answer read frame by frame). */
async function modernCall(url: string, id: number, progress: boolean) {
  const meta: Record<string, unknown> = {
    "io.modelcontextprotocol/protocolVersion": V,
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  if (progress) meta.progressToken = `p-${id}`;
  const res = await fetch(url, {
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
      id,
      method: "tools/call",
      params: { name: TOOL, arguments: LONG, _meta: meta },
    }),
  });
  return res;
}

/** The JSON-RPC error answering `res` (JSON or SSE), after any progress notifications. */
async function modernError(res: Response, reader?: SseReader): Promise<Outcome> {
  if (!reader && !/event-stream/.test(res.headers.get("content-type") ?? "")) {
    const body = await res.json();
    return body.error ?? { message: `unexpected answer ${JSON.stringify(body).slice(0, 200)}` };
  }
  const r = reader ?? new SseReader(res);
  for (;;) {
    const f = await r.next();
    if (!f) return { message: "the SSE answer ended without a response" };
    if (!("message" in f) || f.message.method === "notifications/progress") continue;
    const m = f.message as { error?: Outcome; result?: unknown };
    return m.error ?? { message: `unexpected result ${JSON.stringify(m).slice(0, 200)}` };
  }
}

/** The first progress frame of an SSE answer (the call runs at the backend). */
async function firstProgress(reader: SseReader): Promise<void> {
  for (;;) {
    const f = await reader.next();
    assert.ok(f, "the SSE answer ended before any progress");
    if ("message" in f && f.message.method === "notifications/progress") return;
  }
}

/** `-32003` naming the backend; `reason` must match. */
function assertUnavailable(o: Outcome, reason: RegExp, what: string): void {
  assert.equal(o.code, -32003, `${what}: ${JSON.stringify(o)}`);
  assert.match(o.message, /Backend "every" is unavailable/, what);
  assert.equal(o.data?.backend, "every", what);
  assert.match(String(o.data?.reason), reason, what);
}

/** Starts calls of every kind and resolves once each is running at the backend. */
async function startCalls(url: string) {
  const c = await connect(url);
  // Lean calls first: their POSTs go out before the progress calls' on the same backend
  // connection, so once a progress call runs at the backend, the lean one does too.
  const lean = legacyCall(c);
  const modernPlain = modernCall(url, 1, false);
  let progressed!: () => void;
  const running = new Promise<void>((r) => progressed = r);
  const sdk = legacyCall(c, progressed);
  const modernRes = await modernCall(url, 2, true);
  const reader = new SseReader(modernRes);
  await Promise.all([running, firstProgress(reader)]);
  return {
    c,
    outcomes: async () => ({
      lean: await lean,
      sdk: await sdk,
      modernPlain: await modernError(await modernPlain),
      modernProgress: await modernError(modernRes, reader),
    }),
  };
}

Deno.test("dead backend: an HTTP backend killed mid-call fails every call in flight at once, naming it", async () => {
  const every = await startEverythingHttp();
  const p = await proxy(config({
    operational: { timeouts: TIMEOUTS },
    backends: [{ name: "every", url: every.url }],
  }));
  let c: Connected | undefined;
  try {
    const calls = await startCalls(p.url);
    c = calls.c;
    await every.kill();
    const o = await calls.outcomes();
    // Sent, then the answer stream broke: the backend may have run them.
    for (const [what, outcome] of Object.entries(o)) {
      assertUnavailable(outcome, /outcome is unknown/, what);
      assert.equal(outcome.data?.outcome, "unknown", what);
    }
  } finally {
    await c?.close();
    await p.stop();
    await every.stop();
  }
});

Deno.test("dead backend: calls in flight fail as soon as health checks mark a hung HTTP backend unavailable", async () => {
  const every = await startEverythingHttp();
  const p = await proxy(config({
    operational: {
      timeouts: TIMEOUTS,
      failureHandling: {
        healthCheckInterval: "1s",
        healthCheckTimeout: "1s",
        unhealthyThreshold: 1,
        partialFailureMode: "best_effort",
      },
    },
    backends: [{ name: "every", url: every.url }],
  }));
  let c: Connected | undefined;
  let stopped = false;
  try {
    const calls = await startCalls(p.url);
    c = calls.c;
    Deno.kill(every.pid, "SIGSTOP"); // alive, connections open, answering nothing
    stopped = true;
    const o = await calls.outcomes();
    for (const [what, outcome] of Object.entries(o)) {
      assertUnavailable(outcome, /in flight when the backend was marked unavailable/, what);
    }
  } finally {
    if (stopped) Deno.kill(every.pid, "SIGCONT");
    await c?.close();
    await p.stop();
    await every.stop();
  }
});

/** Process ids of this process's children that run server-everything over stdio. */
async function everythingChildren(): Promise<number[]> {
  const ids: string[] = [];
  for await (const t of Deno.readDir("/proc/self/task")) {
    const text = await Deno.readTextFile(`/proc/self/task/${t.name}/children`).catch(() => "");
    ids.push(...text.split(/\s+/).filter((x) => x !== ""));
  }
  const out: number[] = [];
  for (const id of ids) {
    const cmd = await Deno.readTextFile(`/proc/${id}/cmdline`).catch(() => "");
    if (cmd.includes("server-everything") && cmd.includes("\0stdio")) out.push(Number(id));
  }
  return out;
}

Deno.test("dead backend: a stdio backend process that dies mid-call fails the session's calls at once, naming it", async () => {
  const e = everythingServerCommand();
  const p = await proxy(config({
    operational: { timeouts: TIMEOUTS },
    backends: [{ name: "every", transport: "stdio", ...e }],
  }));
  let c: Connected | undefined;
  try {
    const shared = await everythingChildren(); // the proxy's own process (discovery, checks)
    c = await connect(p.url);
    const lean = legacyCall(c);
    let progressed!: () => void;
    const running = new Promise<void>((r) => progressed = r);
    const sdk = legacyCall(c, progressed);
    await running;
    const own = await waitFor(
      async () => {
        const mine = (await everythingChildren()).filter((id) => !shared.includes(id));
        return mine.length === 1 ? mine[0]! : 0;
      },
      PATIENCE_MS,
      "the session's own server-everything process",
    );
    Deno.kill(own, "SIGKILL");
    assertUnavailable(await lean, /connection closed/, "lean");
    assertUnavailable(await sdk, /connection closed/, "sdk");
  } finally {
    await c?.close();
    await p.stop();
  }
});
