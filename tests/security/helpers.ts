/**
 * The one place the security tests set up their transport and clients, so they can run against
 * another protocol revision by changing `PROTOCOL_VERSION` (and, for a new transport, `RawMcp`):
 *
 * - `RawMcp`: hand-written JSON-RPC over Streamable HTTP (`fetch`), for bodies no SDK client
 *   would send (hostile nesting, empty batches, wrong argument types, floods of sessions);
 * - `sdkClient`: a real SDK client (what a well-behaved user runs);
 * - `proxyProcess`: the real binary (`main.ts --mode=proxy`) as a child process, JSON log kept.
 * @module
 */
import { LATEST_PROTOCOL_VERSION } from "../../core/sdk.ts";
import { type ProxyProcess, spawnProxy } from "../auth/process.ts";
import { connect, type Connected } from "../proxy/helpers.ts";

/** The protocol revision the tests speak. */
export const PROTOCOL_VERSION: string = LATEST_PROTOCOL_VERSION;

export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body (undefined when it is not JSON). */
  json: {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: unknown };
  } | undefined;
}

/** The `initialize` request body (params overridable). */
export function initializeBody(params: Record<string, unknown> = {}, id: unknown = 1): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: "vmcp-security-test", version: "1.0.0" },
      ...params,
    },
  });
}

/** Raw JSON-RPC over Streamable HTTP; `headers` go on every request (e.g. Authorization). */
export class RawMcp {
  sessionId: string | undefined;
  constructor(readonly url: string, readonly headers: Record<string, string> = {}) {}

  /** POSTs `body` (a string is sent as is) on the current session, if any. */
  async post(body: unknown, opts: { session?: string | null } = {}): Promise<RawAnswer> {
    const session = opts.session === null ? undefined : opts.session ?? this.sessionId;
    const res = await fetch(this.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(session ? { "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION } : {}),
        ...this.headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: parseAnswer(text) };
  }

  /** `initialize` + `notifications/initialized` unless `initializeOnly`; keeps the session id. */
  async initialize(opts: { initializeOnly?: boolean } = {}): Promise<RawAnswer> {
    const answer = await this.post(initializeBody(), { session: null });
    const id = answer.headers.get("mcp-session-id");
    if (answer.status === 200 && id) {
      this.sessionId = id;
      if (!opts.initializeOnly) {
        const note = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
        if (note.status !== 202) throw new Error(`notifications/initialized: HTTP ${note.status}`);
      }
    }
    return answer;
  }

  /** One JSON-RPC request on the session. */
  request(method: string, params: Record<string, unknown> = {}, id: unknown = 2) {
    return this.post({ jsonrpc: "2.0", id, method, params });
  }

  /** Ends the session (DELETE), ignoring failures. */
  async close(): Promise<void> {
    if (!this.sessionId) return;
    const res = await fetch(this.url, {
      method: "DELETE",
      headers: { "mcp-session-id": this.sessionId, ...this.headers },
    }).catch(() => undefined);
    await res?.body?.cancel();
    this.sessionId = undefined;
  }
}

/** Parses a JSON answer or the first `data:` event of an SSE answer. */
function parseAnswer(text: string): RawAnswer["json"] {
  const data = text.startsWith("{") || text.startsWith("[")
    ? text
    : /^data: (.*)$/m.exec(text)?.[1];
  if (data === undefined) return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** A real SDK client connected to `url`. */
export function sdkClient(url: string): Promise<Connected> {
  return connect(url);
}

/** The real proxy binary with `config` (a standalone config object), debug log kept. */
export function proxyProcess(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<ProxyProcess> {
  return spawnProxy({ name: "security-vmcp", groupRef: { name: "g" }, ...config }, env);
}

/** The proxy's JSON log lines, parsed. */
export function logLines(p: ProxyProcess): Record<string, unknown>[] {
  return p.stderr().split("\n").filter((l) => l.startsWith("{")).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return { unparsed: l };
    }
  });
}
