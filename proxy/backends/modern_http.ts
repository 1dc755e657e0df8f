/**
 * The HTTP side of a modern backend: one keep-alive pool (core/http1.ts) for its POSTs. A plain
 * `http:` URL that no proxy variable covers gets raw request bytes after a head prefix built
 * once (as pooled_transport.ts does for legacy backends); anything else, and a 307/308 redirect
 * (not processed by the backend, so safe to send again), goes through `createBackendFetch`
 * over the same pool, which follows redirects within the origin only.
 * @module
 */
import { type BackendFetch, createBackendFetch, proxiedHosts } from "../../core/http_client.ts";
import { Http1Pool, rawHeader, type RawResponse } from "../../core/http1.ts";
import { encodeJsonPost, jsonPostPrefix } from "../../core/http1_wire.ts";
import { isAnswer } from "./modern_wire.ts";
import type { RpcAnswer } from "./pooled_transport.ts";

const USER_AGENT = `Deno/${Deno.version.deno}`;
const decoder = new TextDecoder();

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

export class ModernHttp {
  readonly #pool = new Http1Pool();
  /** Fetch over the pool (the SDK client's transport uses it too). */
  readonly fetch: BackendFetch;
  readonly #url: string;
  readonly #lean: { url: URL; prefix: string } | undefined;

  constructor(url: string, getEnv: (name: string) => string | undefined = safeEnv) {
    this.#url = url;
    const u = new URL(url);
    this.#lean = u.protocol === "http:" && !proxiedHosts(getEnv)(u.hostname)
      ? { url: u, prefix: jsonPostPrefix(u) }
      : undefined;
    this.fetch = createBackendFetch({ http1: this.#pool });
  }

  /** Sends one JSON-RPC POST with `headers` (besides content type and accept). */
  async post(
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<Response | RawResponse> {
    if (this.#lean) {
      const { url, prefix } = this.#lean;
      const raw = await this.#pool.send(
        url,
        "POST",
        encodeJsonPost(prefix, headers, body, USER_AGENT),
        signal,
      );
      if (!((raw.status === 307 || raw.status === 308) && rawHeader(raw, "location"))) return raw;
      if (raw.body instanceof ReadableStream) await raw.body.cancel().catch(() => {});
    }
    return await this.fetch(this.#url, {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body,
      signal,
    });
  }

  /** Closes every socket: requests in flight fail. */
  close(): void {
    this.#pool.close();
    this.#pool.abortAll();
  }
}

/** The answer of a 2xx plain JSON body already received whole; undefined for anything else. */
export function plainJson(raw: RawResponse, id: number): RpcAnswer | undefined {
  if (raw.status < 200 || raw.status > 299 || !(raw.body instanceof Uint8Array)) return undefined;
  const type = rawHeader(raw, "content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) return undefined;
  try {
    const data = JSON.parse(decoder.decode(raw.body));
    return isAnswer(data, id) ? data : undefined;
  } catch {
    return undefined;
  }
}
