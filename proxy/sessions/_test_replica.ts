/**
 * Test support (not used by the proxy): a minimal MCP "replica" wired exactly as the README
 * describes the front door — shared store + per-replica LRU + identity binding + restore with
 * a replayed initialize — around a tiny SDK `Server` (tools `whoami` and `notify`). Tests and
 * the bench run two of them behind `tests/fixtures/balancer.ts`.
 * @module
 */
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  Server,
  WebStandardStreamableHTTPServerTransport,
} from "../../core/sdk.ts";
import { bindingErrorResponse, checkBinding } from "./binding.ts";
import { LocalSessionCache } from "./local_cache.ts";
import { restoreTransport, sessionStateFromInitialize } from "./restore_transport.ts";
import {
  type SessionRecord,
  type SessionStore,
  SessionStoreUnavailableError,
  storeUnavailableResponse,
  TERMINATED,
  UNAUTHENTICATED,
} from "./store.ts";

interface Held {
  server: Server;
  transport: WebStandardStreamableHTTPServerTransport;
  record: SessionRecord;
}

export interface TestReplica {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  /** `http://127.0.0.1:<port>` (a balancer target) */
  readonly origin: string;
  readonly name: string;
  /** Sessions this replica restored from the store. */
  readonly stats: { restores: number; created: number; degraded: number };
  readonly local: LocalSessionCache<Held>;
  stop(): Promise<void>;
}

function notFound(): Response {
  return Response.json({
    jsonrpc: "2.0",
    error: { code: -32001, message: "Session not found" },
    id: null,
  }, {
    status: 404,
  });
}

function makeServer(replica: string): Server {
  const server = new Server({ name: `replica-${replica}`, version: "1.0.0" }, {
    capabilities: { tools: {}, logging: {} },
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [
      { name: "whoami", inputSchema: { type: "object" } },
      { name: "notify", inputSchema: { type: "object" } },
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    if (req.params.name === "notify") {
      await extra.sendNotification({
        method: "notifications/message",
        params: { level: "info", data: `hello from ${replica}` },
      });
    }
    const info = {
      replica,
      session: extra.sessionId,
      clientInfo: server.getClientVersion(),
      clientCapabilities: server.getClientCapabilities(),
    };
    return { content: [{ type: "text", text: JSON.stringify(info) }] };
  });
  return server;
}

export function startTestReplica(
  opts: { name: string; store: SessionStore; cacheMax?: number },
): TestReplica {
  const { store, name } = opts;
  const stats = { restores: 0, created: 0, degraded: 0 };
  const local = new LocalSessionCache<Held>({
    max: opts.cacheMax ?? 1000,
    onEvict: (_id, held) => void held.server.close().catch(() => {}),
  });
  const abort = new AbortController();

  async function create(req: Request, body: unknown, identityKey: string): Promise<Response> {
    const state = sessionStateFromInitialize(body);
    if (!state) return new Response("initialize required", { status: 400 });
    const server = makeServer(name);
    let held: Held | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (id) => {
        const now = Date.now();
        held = {
          server,
          transport,
          record: {
            id,
            identityKey,
            ...state,
            backendSessions: {},
            subscriptions: [],
            createdAt: now,
            lastSeen: now,
          },
        };
      },
      onsessionclosed: (id) => terminate(id),
    });
    await server.connect(transport);
    const res = await transport.handleRequest(req, { parsedBody: body });
    if (!held) {
      await server.close();
      return res;
    }
    try {
      await store.create(held.record);
    } catch (err) {
      await res.body?.cancel();
      await server.close();
      if (err instanceof SessionStoreUnavailableError) return storeUnavailableResponse(err);
      throw err;
    }
    stats.created++;
    local.set(held.record.id, held);
    return res;
  }

  async function terminate(id: string): Promise<void> {
    await store.terminate(id).catch(() => {});
    const held = local.peek(id);
    if (held) queueMicrotask(() => local.deleteIf(id, held));
  }

  async function handle(req: Request): Promise<Response> {
    const identityKey = req.headers.get("x-test-identity") ?? UNAUTHENTICATED;
    const id = req.headers.get("mcp-session-id");
    if (!id) {
      if (req.method !== "POST") return new Response("session id required", { status: 400 });
      return await create(req, await req.json(), identityKey);
    }
    let held = local.get(id);
    let record: SessionRecord | undefined;
    try {
      const got = await store.get(id);
      if (got === TERMINATED) {
        if (held) local.delete(id);
        return notFound();
      }
      record = got;
      if (!record && held) {
        // Lost from the store (e.g. Redis restarted without persistence): write it back.
        await store.create(held.record);
        record = held.record;
      }
    } catch (err) {
      if (!(err instanceof SessionStoreUnavailableError)) throw err;
      if (!held) return storeUnavailableResponse(err);
      stats.degraded++;
      record = held.record;
    }
    if (!record) return notFound();
    const binding = checkBinding(record, identityKey);
    if (!binding.ok) return bindingErrorResponse(binding);
    if (!held) {
      const restored = await restoreTransport({
        session: record,
        server: makeServer(name),
        transportOptions: { onsessionclosed: (sid) => terminate(sid) },
      });
      held = { server: restored.server, transport: restored.transport, record };
      local.set(id, held);
      stats.restores++;
    }
    return await held.transport.handleRequest(req);
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    handle,
  );
  const origin = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  return {
    url: `${origin}/mcp`,
    origin,
    name,
    stats,
    local,
    async stop() {
      local.clear();
      abort.abort();
      await server.finished;
    },
  };
}
