import assert from "node:assert/strict";
import {
  normalizeSubjectTokenType,
  parseBackendAuthStrategy,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
} from "./strategies.ts";

Deno.test("subject token types accept the short forms and URNs and default to access_token", () => {
  assert.equal(normalizeSubjectTokenType(undefined), TOKEN_TYPE_ACCESS_TOKEN);
  assert.equal(normalizeSubjectTokenType("access_token"), TOKEN_TYPE_ACCESS_TOKEN);
  assert.equal(normalizeSubjectTokenType("id_token"), TOKEN_TYPE_ID_TOKEN);
  assert.equal(normalizeSubjectTokenType("jwt"), TOKEN_TYPE_JWT);
  assert.equal(normalizeSubjectTokenType("urn:x:custom"), "urn:x:custom");
  assert.throws(() => normalizeSubjectTokenType("saml"), /subjectTokenType "saml"/);
});

Deno.test("strategies parse with camelCase and ToolHive snake_case spellings", () => {
  assert.deepEqual(parseBackendAuthStrategy({ type: "unauthenticated" }), {
    type: "unauthenticated",
  });
  assert.deepEqual(
    parseBackendAuthStrategy({
      type: "header_injection",
      headerInjection: { headerName: "X-Key", headerValueEnv: "K" },
    }),
    { type: "headerInjection", headerInjection: { headerName: "X-Key", valueEnv: "K" } },
  );
  const te = parseBackendAuthStrategy({
    type: "token_exchange",
    tokenExchange: {
      tokenUrl: "https://idp/token",
      clientId: "c",
      clientSecretEnv: "S",
      audience: "a",
      scopes: ["x"],
    },
  });
  assert.equal(te.type, "tokenExchange");
});

Deno.test("invalid strategies are refused with every problem and its field named", () => {
  assert.throws(
    () =>
      parseBackendAuthStrategy({
        type: "tokenExchange",
        tokenExchange: { tokenUrl: "ftp://x", clientSecret: "s" },
      }, "backends.gh"),
    (e: unknown) => {
      const m = (e as Error).message;
      assert.match(m, /backends\.gh\.tokenExchange\.tokenUrl/);
      assert.match(m, /a client secret requires clientId/);
      assert.ok(!m.includes('"s"'), "the secret value is not echoed");
      return true;
    },
  );
  assert.throws(
    () =>
      parseBackendAuthStrategy({
        type: "headerInjection",
        headerInjection: { headerName: "Mcp-Session-Id", value: "x" },
      }),
    /auth\.headerInjection\.headerName: must not be a transport or MCP protocol header/,
  );
  assert.throws(
    () =>
      parseBackendAuthStrategy({
        type: "headerInjection",
        headerInjection: { headerName: "X", value: "a", valueEnv: "B" },
      }),
    /exactly one of value and valueEnv/,
  );
});
