/**
 * Minimal REST calls against a test kube-apiserver (bearer token + cluster CA), for harness
 * plumbing and quick assertions. Product code uses @kubernetes/client-node instead.
 */

/** What is needed to call the API server. */
export interface KubeConn {
  readonly url: string;
  readonly token: string;
  readonly caPem: string;
}

export interface KubeRawResponse {
  status: number;
  body: string;
}

export interface KubeRequestOptions {
  /** Return status + body text instead of parsed JSON, and do not throw on non-2xx. */
  raw?: boolean;
  /** Content type for the body; default application/json. */
  contentType?: string;
  signal?: AbortSignal;
}

/** Error for a non-2xx answer; `status` and the server's `reason` are kept. */
export class KubeRequestError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly reason: string | undefined,
    body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}${reason ? ` ${reason}` : ""}: ${body.slice(0, 500)}`);
    this.name = "KubeRequestError";
  }
}

export function kubeRequest(
  conn: KubeConn,
  method: string,
  path: string,
  body: unknown,
  options: KubeRequestOptions & { raw: true },
): Promise<KubeRawResponse>;
export function kubeRequest<T = Record<string, unknown>>(
  conn: KubeConn,
  method: string,
  path: string,
  body?: unknown,
  options?: KubeRequestOptions,
): Promise<T>;
/** Calls `method path` with optional JSON `body`; parsed JSON unless `options.raw`. */
export async function kubeRequest(
  conn: KubeConn,
  method: string,
  path: string,
  body?: unknown,
  options: KubeRequestOptions = {},
): Promise<unknown> {
  const client = Deno.createHttpClient({ caCerts: [conn.caPem] });
  try {
    const headers: Record<string, string> = {
      authorization: `Bearer ${conn.token}`,
      accept: "application/json",
    };
    if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
    const res = await fetch(`${conn.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      client,
      signal: options.signal,
    });
    const text = await res.text();
    if (options.raw) return { status: res.status, body: text } satisfies KubeRawResponse;
    if (!res.ok) {
      let reason: string | undefined;
      try {
        reason = (JSON.parse(text) as { reason?: string }).reason;
      } catch {
        // not a Status object
      }
      throw new KubeRequestError(method, path, res.status, reason, text);
    }
    return text ? JSON.parse(text) : undefined;
  } finally {
    client.close();
  }
}
