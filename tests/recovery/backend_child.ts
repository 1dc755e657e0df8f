/**
 * A test backend process on a FIXED port, to be killed and restarted on the same port (the
 * recovery tests and `bench/soak.ts`). Streamable HTTP, stateful sessions (a restarted process
 * knows none of the old ones: they get 404), one SDK `Server` per session, the built-in tools
 * plus `work`:
 *
 *   work { client: string, seq: number, ms?: number } → structuredContent
 *     { client, seq, pid, backend }, after `ms` (default `--work-ms`), then appends one JSON
 *     line `{ client, seq, pid, session, t }` to the execution log (`--log`): the call ran.
 *
 *   deno run -A tests/recovery/backend_child.ts --port P [--name b] [--log FILE]
 *     [--json-response] [--work-ms N]
 * @module
 */
import { parseArgs } from "node:util";
import { WebStandardStreamableHTTPServerTransport } from "../../core/sdk.ts";
import { BackendState, createTestBackend, sleep, type TestTool } from "../fixtures/backend.ts";

/** One line of the execution log. */
export interface Execution {
  client: string;
  seq: number;
  pid: number;
  session: string | undefined;
  /** Epoch ms when the call finished running. */
  t: number;
}

function workTool(name: string, logPath: string | undefined, workMs: number): TestTool {
  const enc = new TextEncoder();
  const file = logPath ? Deno.openSync(logPath, { append: true, create: true }) : undefined;
  return {
    name: "work",
    description: "Does a unit of work and records it in the execution log.",
    inputSchema: {
      type: "object",
      properties: {
        client: { type: "string" },
        seq: { type: "number" },
        ms: { type: "number" },
      },
      required: ["client", "seq"],
    },
    handler: async (args, ctx) => {
      const ms = typeof args.ms === "number" ? args.ms : workMs;
      if (ms > 0) await sleep(ms, ctx.extra.signal);
      const client = String(args.client);
      const seq = Number(args.seq);
      const line: Execution = {
        client,
        seq,
        pid: Deno.pid,
        session: ctx.extra.sessionId,
        t: Date.now(),
      };
      file?.writeSync(enc.encode(JSON.stringify(line) + "\n"));
      const out = { client, seq, pid: Deno.pid, backend: name };
      return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
    },
  };
}

function jsonRpcError(status: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }, {
    status,
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      name: { type: "string", default: "b" },
      log: { type: "string" },
      "json-response": { type: "boolean", default: false },
      "work-ms": { type: "string", default: "0" },
    },
  });
  if (!values.port) throw new Error("backend_child.ts: --port is required");
  const name = values.name!;
  const state = new BackendState();
  state.calls.push = () => 0; // long runs: do not keep every call
  const extraTools = [workTool(name, values.log, Number(values["work-ms"]))];
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  Deno.serve(
    { hostname: "127.0.0.1", port: Number(values.port), onListen: () => {} },
    async (req) => {
      if (new URL(req.url).pathname !== "/mcp") return new Response("not found", { status: 404 });
      const sessionId = req.headers.get("mcp-session-id");
      if (sessionId) {
        const known = transports.get(sessionId);
        if (!known) return jsonRpcError(404, "Session not found");
        return await known.handleRequest(req);
      }
      if (req.method !== "POST") return jsonRpcError(400, "No mcp-session-id header");
      const transport: WebStandardStreamableHTTPServerTransport =
        new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: () => crypto.randomUUID(),
          enableJsonResponse: values["json-response"],
          onsessioninitialized: (id) => void transports.set(id, transport),
          onsessionclosed: (id) => void transports.delete(id),
        });
      const server = createTestBackend({ name, state, extraTools });
      await server.connect(transport);
      return await transport.handleRequest(req);
    },
  );
}
