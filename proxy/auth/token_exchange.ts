/**
 * OAuth token-endpoint client: RFC 8693 token exchange and client credentials.
 * Errors name the endpoint, the HTTP status and the OAuth error code — never a token or secret.
 * @module
 */

import { TOKEN_EXCHANGE_GRANT } from "../../core/auth/strategies.ts";
import { OutgoingAuthError } from "./errors.ts";
import { describeFetchError, type FetchFn, fetchText } from "./http.ts";

export interface TokenEndpointClient {
  tokenUrl: string;
  clientId?: string;
  clientSecret?: string;
}

export interface ObtainedToken {
  accessToken: string;
  /** `token_type` from the response (`Bearer` when absent or `N_A`). */
  tokenType: string;
  /** `expires_in` in seconds, when the endpoint sent one. */
  expiresIn?: number;
}

export interface TokenRequestOptions {
  fetch?: FetchFn;
  /** @default 10000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, then Basic-encode. */
function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  const bytes = new TextEncoder().encode(`${enc(id)}:${enc(secret)}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

const OAUTH_ERROR_CODE = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** POSTs a token request and returns the token, or throws an `OutgoingAuthError`. */
export async function requestToken(
  client: TokenEndpointClient,
  form: Record<string, string | undefined>,
  options: TokenRequestOptions = {},
): Promise<ObtainedToken> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined && v !== "") body.set(k, v);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (client.clientId && client.clientSecret) {
    headers.authorization = basicAuth(client.clientId, client.clientSecret);
  } else if (client.clientId) {
    body.set("client_id", client.clientId);
  }
  const where = (() => {
    const u = new URL(client.tokenUrl);
    return `${u.origin}${u.pathname}`;
  })();
  let res;
  try {
    res = await fetchText(
      options.fetch ?? fetch,
      client.tokenUrl,
      { method: "POST", headers, body: body.toString(), redirect: "error" },
      options.timeoutMs ?? 10_000,
      options.signal,
    );
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new OutgoingAuthError(`token endpoint ${where} unreachable: ${describeFetchError(err)}`);
  }
  let json: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(res.body);
    if (parsed && typeof parsed === "object") json = parsed;
  } catch { /* reported below */ }
  if (res.status !== 200) {
    const code = typeof json?.error === "string" && OAUTH_ERROR_CODE.test(json.error)
      ? ` (${json.error})`
      : "";
    throw new OutgoingAuthError(`token endpoint ${where} answered HTTP ${res.status}${code}`);
  }
  const accessToken = json?.access_token;
  if (typeof accessToken !== "string" || accessToken === "" || /[\r\n\0]/.test(accessToken)) {
    throw new OutgoingAuthError(`token endpoint ${where} returned no usable access_token`);
  }
  const rawType = typeof json?.token_type === "string" ? json.token_type : "Bearer";
  const expires = Number(json?.expires_in);
  return {
    accessToken,
    tokenType: /^bearer$/i.test(rawType) || rawType === "N_A" ? "Bearer" : rawType,
    expiresIn: json?.expires_in !== undefined && Number.isFinite(expires) && expires >= 0
      ? expires
      : undefined,
  };
}

export interface ExchangeParams {
  subjectToken: string;
  subjectTokenType: string;
  audience?: string;
  scopes?: string[];
}

/** RFC 8693 token exchange. */
export function exchangeToken(
  client: TokenEndpointClient,
  params: ExchangeParams,
  options: TokenRequestOptions = {},
): Promise<ObtainedToken> {
  return requestToken(client, {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: params.subjectToken,
    subject_token_type: params.subjectTokenType,
    requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience: params.audience,
    scope: params.scopes?.join(" "),
  }, options);
}

/** Client-credentials grant (health probes carry no user identity). */
export function clientCredentials(
  client: TokenEndpointClient,
  params: { audience?: string; scopes?: string[] },
  options: TokenRequestOptions = {},
): Promise<ObtainedToken> {
  return requestToken(client, {
    grant_type: "client_credentials",
    audience: params.audience,
    scope: params.scopes?.join(" "),
  }, options);
}
