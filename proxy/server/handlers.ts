/**
 * Registers the proxy's MCP request handlers on one session's SDK `Server`.
 *
 * Handlers are installed with the SDK's base `Protocol.setRequestHandler` and loose request
 * schemas (built once): the proxy relays requests and results, so it skips the SDK's full
 * request parsing and the `Server`'s extra `tools/call` result validation on the hot path.
 * The router checks what it needs (names, URIs).
 * @module
 */
import { z } from "zod";
import {
  ErrorCode,
  type RequestHandlerExtra,
  RootsListChangedNotificationSchema,
  Server,
} from "../../core/sdk.ts";
import { RpcError } from "../backends/errors.ts";
import type { AnyObject } from "../backends/connection.ts";
import type { Router } from "../router.ts";
import type { ProxyMetrics } from "./metrics.ts";
import { LOGGING_LEVELS, type ProxySession } from "./session.ts";
import type { SessionPatch } from "../sessions/store.ts";
import { telemetry } from "../telemetry/instrument.ts";

type Extra = RequestHandlerExtra<never, never>;
type Handler = (params: AnyObject, extra: Extra) => Promise<AnyObject> | AnyObject;

const schemas = new Map<string, z.ZodType>();
function schemaFor(method: string): z.ZodType {
  let s = schemas.get(method);
  if (!s) {
    s = z.looseObject({ method: z.literal(method), params: z.optional(z.looseObject({})) });
    schemas.set(method, s);
  }
  return s;
}

// The Protocol base class's setRequestHandler (Server overrides it for tools/call).
const baseSetRequestHandler = Object.getPrototypeOf(Server.prototype).setRequestHandler as (
  this: Server,
  schema: z.ZodType,
  handler: (req: { params?: AnyObject }, extra: Extra) => Promise<AnyObject>,
) => void;

const LOG_LEVELS = new Set<string>(LOGGING_LEVELS);

/** `logging/setLevel` with a level that is not one: -32602 naming the field and what is allowed. */
function invalidLevel(level: unknown): RpcError {
  return new RpcError(
    ErrorCode.InvalidParams,
    `Invalid params: level ${
      JSON.stringify(level) ?? "(missing)"
    } is not a logging level; expected one of ${LOGGING_LEVELS.join(", ")}`,
    { field: "level", allowed: LOGGING_LEVELS },
  );
}

/** Records a change of the session's stored state (subscriptions, log level). */
export type PersistState = (session: ProxySession, patch: SessionPatch) => void;

/** Installs every handler for `session`, delegating to `router`. */
export function installHandlers(
  session: ProxySession,
  router: Router,
  metrics?: ProxyMetrics,
  persist?: PersistState,
): void {
  const server = session.server;
  const on = (method: string, fn: Handler) => {
    const run = async (params: AnyObject, extra: Extra) => {
      session.lastSeen = Date.now();
      try {
        const result = await fn(params, extra);
        metrics?.request(method, true);
        if (telemetry && result.isError === true) telemetry.toolError();
        return result;
      } catch (err) {
        metrics?.request(method, false);
        if (telemetry) telemetry.failed(err);
        throw err;
      }
    };
    baseSetRequestHandler.call(
      server,
      schemaFor(method),
      (req, extra) => run(req.params ?? {}, extra),
    );
    return run;
  };
  const x = (extra: Extra) => ({ requestId: extra.requestId, signal: extra.signal });

  // Lists depend on the capabilities the client declared (capability_views.ts).
  const caps = () => session.clientCapabilities() ?? {};
  on("tools/list", (p) => router.listTools(p, session.identity, caps()));
  const toolsCall = on("tools/call", (p, e) => router.callTool(session, p, x(e)));
  // The JSON-only fast path (fast_call.ts) runs the same handler, SDK dispatch skipped.
  session.toolsCall = (p, e) => toolsCall(p, e as Extra);
  on("resources/list", (p) => router.listResources(p, session.identity, caps()));
  on(
    "resources/templates/list",
    (p) => router.listResourceTemplates(p, session.identity, caps()),
  );
  on("resources/read", (p, e) => router.readResource(session, p, x(e)));
  const subscriptionsChanged = <T>(result: T): T => {
    persist?.(session, { subscriptions: [...session.subscriptions] });
    return result;
  };
  on(
    "resources/subscribe",
    async (p, e) => subscriptionsChanged(await router.subscribe(session, p, x(e))),
  );
  on(
    "resources/unsubscribe",
    async (p, e) => subscriptionsChanged(await router.unsubscribe(session, p, x(e))),
  );
  on("prompts/list", (p) => router.listPrompts(p, session.identity, caps()));
  server.setNotificationHandler(RootsListChangedNotificationSchema, () => {
    session.lastSeen = Date.now();
    router.rootsChanged(session);
  });
  on("prompts/get", (p, e) => router.getPrompt(session, p, x(e)));
  on("completion/complete", (p, e) => router.complete(session, p, x(e)));
  on("logging/setLevel", (p) => {
    if (typeof p.level !== "string" || !LOG_LEVELS.has(p.level)) throw invalidLevel(p.level);
    session.logLevel = p.level as ProxySession["logLevel"];
    persist?.(session, { logLevel: p.level });
    return {};
  });
}
