/**
 * Auth cost per call: `deno run -A bench/auth_bench.ts [--calls=2000] [--rounds=5] [--micro=20000]`
 *
 * 1. Components (µs per operation, sequential, in-process): what auth adds to one
 *    `tools/call` — verifying the caller's OIDC JWT (`IncomingAuthenticator.authenticate`,
 *    JWKS cached) once per client request, plus the backend headers of a `tokenExchange`
 *    backend whose exchanged token is cached (`headersFor`) once per backend request.
 * 2. End to end: `tools/call` through a real proxy with OIDC incoming auth and a cached
 *    exchanged token, versus the same proxy set-up anonymous and unauthenticated, against the
 *    same backend (plain JSON answers); sequential calls, interleaved rounds so drift hits
 *    both sides alike. Client, proxies and backend share this process, so the end-to-end
 *    difference is noisier than the component sum.
 *
 * Target: ≤ 50 µs added per call. Prints one JSON object on stdout.
 * @module
 */
import { parseArgs } from "node:util";
import { CallToolResultSchema, Client, StreamableHTTPClientTransport } from "../core/sdk.ts";
import { createBackendFetch } from "../core/http_client.ts";
import { silentLogger } from "../core/log.ts";
import { createProxyAuth } from "../proxy/auth_wiring.ts";
import { createIncomingAuth } from "../proxy/auth/incoming.ts";
import { createOutgoingAuth } from "../proxy/auth/outgoing.ts";
import { startProxy } from "../proxy/serve.ts";
import { VmcpConfigSchema } from "../crds/vmcp_config.ts";
import { startOidcIssuer } from "../tests/fixtures/oidc_issuer.ts";
import { startTokenEndpoint } from "../tests/fixtures/token_endpoint.ts";
import { serveHttpBackend } from "../tests/fixtures/serve_http.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    calls: { type: "string", default: "2000" },
    rounds: { type: "string", default: "5" },
    micro: { type: "string", default: "20000" },
  },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const MICRO = Number(values.micro);

const say = (s: string) => Deno.stderr.writeSync(new TextEncoder().encode(`[auth_bench] ${s}\n`));
const us = (ms: number) => Math.round(ms * 1000 * 10) / 10;

function stats(samplesMs: number[]) {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return {
    n: s.length,
    p50_us: us(at(0.5)),
    p90_us: us(at(0.9)),
    p99_us: us(at(0.99)),
    mean_us: us(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(1000, n); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

const idp = await startOidcIssuer();
const te = startTokenEndpoint({ expiresIn: 3600 });
const backend = await serveHttpBackend({ name: "b0", jsonResponse: true });
const env = (n: string) => (n === "TE_SECRET" ? "vmcp-secret" : undefined);
const token = await idp.sign({ sub: "bench-user" }, { expiresIn: 3600 });
const exchange = {
  type: "tokenExchange" as const,
  tokenExchange: {
    tokenUrl: te.url,
    clientId: "vmcp",
    clientSecretEnv: "TE_SECRET",
    audience: "b0",
  },
};

// 1. Components.
const incoming = createIncomingAuth({
  type: "oidc",
  oidcConfig: {
    type: "inline",
    inline: { issuer: idp.issuer, audience: "vmcp", clockSkew: "30s" },
  },
});
const req = () =>
  new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
const identity = await incoming.authenticate(req());
if (identity instanceof Response) throw new Error(`bench token refused: ${identity.status}`);
const outgoing = createOutgoingAuth(exchange, { backendName: "b0", env });
await outgoing.headersFor(identity);
say(`components: ${MICRO} operations each`);
const verify = stats(await timeEach(MICRO, () => incoming.authenticate(req())));
const baselineRequest = stats(await timeEach(MICRO, () => Promise.resolve(req())));
const headers = stats(await timeEach(MICRO, () => outgoing.headersFor(identity)));
incoming.close();

// 2. End to end.
const base = {
  name: "bench",
  groupRef: { name: "g" },
  backends: [{ name: "b0", url: backend.url }],
};
const plainCfg = VmcpConfigSchema.parse(base);
const authCfg = VmcpConfigSchema.parse({
  ...base,
  incomingAuth: {
    type: "oidc",
    oidcConfig: { type: "inline", inline: { issuer: idp.issuer, audience: "vmcp" } },
  },
  outgoingAuth: { source: "inline", default: exchange },
});
const auth = createProxyAuth(authCfg, silentLogger, { env });
const plain = await startProxy({ config: plainCfg, host: "127.0.0.1", port: 0 });
const authed = await startProxy({
  config: authCfg,
  host: "127.0.0.1",
  port: 0,
  ...auth.startOptions,
});
await Promise.all([plain.ready, authed.ready]);

async function client(url: string, bearer?: string): Promise<Client> {
  const f = createBackendFetch();
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: (u, init) => {
      if (!bearer) return f(u, init);
      const h = new Headers(init?.headers);
      h.set("authorization", `Bearer ${bearer}`);
      return f(u, { ...init, headers: h });
    },
  });
  const c = new Client({ name: "auth-bench", version: "1.0.0" });
  await c.connect(transport);
  return c;
}
const call = (c: Client) =>
  c.request({
    method: "tools/call",
    params: { name: "b0_echo", arguments: { message: "x" } },
  }, CallToolResultSchema);

const plainClient = await client(plain.url);
const authClient = await client(authed.url, token);
const plainSamples: number[] = [];
const authSamples: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  say(`end to end: round ${r + 1}/${ROUNDS}, ${CALLS} calls each`);
  plainSamples.push(...await timeEach(CALLS, () => call(plainClient)));
  authSamples.push(...await timeEach(CALLS, () => call(authClient)));
}
const exchanges = te.log.filter((e) => e.grantType?.endsWith("token-exchange")).length;
await plainClient.close();
await authClient.close();
await plain.stop();
await authed.stop();
await auth.close();
await backend.stop();
await te.stop();
await idp.stop();

const plainStats = stats(plainSamples);
const authStats = stats(authSamples);
const componentSum = Math.round((verify.p50_us - baselineRequest.p50_us + headers.p50_us) * 10) /
  10;
const result = {
  components: {
    authenticate_oidc_jwt: verify,
    building_the_request_alone: baselineRequest,
    headersFor_cached_exchanged_token: headers,
    added_p50_us: componentSum,
  },
  endToEnd: {
    unauthenticated: plainStats,
    oidc_plus_cached_token_exchange: authStats,
    added_p50_us: Math.round((authStats.p50_us - plainStats.p50_us) * 10) / 10,
    added_mean_us: Math.round((authStats.mean_us - plainStats.mean_us) * 10) / 10,
    tokenExchangesDuringRun: exchanges,
  },
  target: { text: "≤ 50 µs added per call (component p50 sum)", met: componentSum <= 50 },
};
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"));
