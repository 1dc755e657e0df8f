/**
 * Opaque-token incoming auth through the real proxy (real HTTP, SDK clients, a real RFC 7662
 * introspection endpoint and OIDC issuer): opaque tokens are introspected with vmcp's client
 * credentials, JWTs still go to the JWKS, inactive / expired / foreign-audience tokens get
 * 401, an introspection outage gets 503, and one session costs one introspection.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { startIntrospectionEndpoint } from "../fixtures/introspection_endpoint.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, echo, type Seen } from "./helpers.ts";
import { parseConfig } from "../../core/config/load.ts";

const env = (name: string) =>
  name === "VMCP_OIDC_CLIENT_SECRET" ? "vmcp-introspect-secret" : undefined;

function incoming(issuer: string, introspectionUrl: string) {
  return {
    type: "oidc" as const,
    oidcConfig: {
      type: "inline" as const,
      inline: {
        issuer,
        audience: "vmcp",
        introspectionUrl,
        clientId: "vmcp",
        clientSecretEnv: "VMCP_OIDC_CLIENT_SECRET",
      },
    },
  };
}

async function refusedWith(url: string, token: string): Promise<Seen> {
  const err = await connectWithToken(url, token).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: Error & { seen?: Seen[] }) => e,
  );
  assert.ok(err, "the token was accepted");
  return err.seen!.at(-1)!;
}

Deno.test("opaque tokens are checked at the introspection endpoint (HTTP Basic client credentials, once per session) and JWTs still by the JWKS; inactive, expired and foreign-audience tokens get 401", async () => {
  const idp = await startOidcIssuer();
  const ep = startIntrospectionEndpoint();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(
    config({
      incomingAuth: incoming(idp.issuer, ep.url),
      backends: [{ name: "web", url: web.url }],
    }),
    { deps: { incoming: { env } } },
  );
  try {
    const opaque = ep.issue({ sub: "alice", aud: "vmcp" });
    const c = await connectWithToken(p.url, opaque);
    for (let i = 0; i < 3; i++) assert.equal((await echo(c, "web_echo")).backend, "web");
    await c.close();
    const asked = ep.log.filter((e) => e.token === opaque);
    assert.equal(asked.length, 1, "one introspection for the whole session");
    assert.equal(asked[0]!.clientAuthenticated, true);
    assert.equal(asked[0]!.tokenTypeHint, "access_token");

    const jwt = await idp.sign({ sub: "bob" });
    const j = await connectWithToken(p.url, jwt);
    assert.equal((await echo(j, "web_echo")).backend, "web");
    await j.close();
    assert.ok(
      !ep.log.some((e) => e.token === jwt),
      "a JWT never goes to the introspection endpoint",
    );

    const revoked = ep.issue({ sub: "carol" });
    ep.revoke(revoked);
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, RegExp][] = [
      [revoked, /not active/],
      ["opaque-never-issued", /not active/],
      [ep.issue({ exp: now - 120 }), /expired/],
      [ep.issue({ aud: "another-api" }), /audience/],
    ];
    for (const [token, why] of cases) {
      const answer = await refusedWith(p.url, token);
      assert.equal(answer.status, 401, String(why));
      const challenge = answer.headers.get("www-authenticate") ?? "";
      assert.match(challenge, /error="invalid_token"/);
      assert.match(challenge, why);
      assert.ok(!challenge.includes(token));
    }

    ep.failWith(500);
    const down = await refusedWith(p.url, ep.issue({ sub: "dave" }));
    assert.equal(down.status, 503, "an introspection outage is not a 401");
    ep.failWith(undefined);
  } finally {
    await p.stop();
    await Promise.all([web.stop(), ep.stop(), idp.stop()]);
  }
});

Deno.test("introspectionUrl without clientId or a client secret is refused at load, naming the field", () => {
  assert.throws(
    () =>
      parseConfig(JSON.stringify({
        name: "v",
        incomingAuth: {
          type: "oidc",
          oidcConfig: {
            type: "inline",
            inline: {
              issuer: "https://idp.example.com",
              audience: "vmcp",
              introspectionUrl: "https://idp.example.com/introspect",
            },
          },
        },
      })),
    (err: Error) => {
      assert.match(
        err.message,
        /incomingAuth\.oidcConfig\.inline\.clientId: Required with introspectionUrl/,
      );
      assert.match(
        err.message,
        /incomingAuth\.oidcConfig\.inline\.clientSecretEnv: Required with introspectionUrl/,
      );
      return true;
    },
  );
});

Deno.test("the proxy does not start when the introspection client secret's environment variable is unset", async () => {
  await assert.rejects(
    () =>
      authProxy(
        config({
          incomingAuth: incoming("https://idp.example.com", "http://127.0.0.1:1/i"),
          backends: [],
        }),
        { deps: { incoming: { env: () => undefined } } },
      ),
    /clientSecretEnv "VMCP_OIDC_CLIENT_SECRET": the environment variable is not set/,
  );
});
