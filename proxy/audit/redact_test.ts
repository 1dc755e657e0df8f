import assert from "node:assert/strict";
import { boundedRedactedJson, cutToBytes, REDACTED, redactText } from "./redact.ts";

const JWT =
  "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImF1ZCI6InZtY3AifQ.c2lnbmF0dXJlLXBhcnQ";

Deno.test("boundedRedactedJson() redacts values under credential-looking keys at any depth, keeps numbers and booleans", () => {
  const { text, truncated } = boundedRedactedJson({
    query: "weather",
    password: "hunter2",
    nested: {
      db_password: "pw",
      clientSecret: "cs",
      api_key: "k1",
      apiKey: "k2",
      "X-Api-Key": "k3",
      Authorization: "Basic abc",
      refresh_token: "rt",
      max_tokens: 100,
      tokenized: true,
      list: [{ secret: { deep: "value" } }, "plain"],
    },
  }, 4096);
  assert.equal(truncated, false);
  assert.deepEqual(JSON.parse(text), {
    query: "weather",
    password: REDACTED,
    nested: {
      db_password: REDACTED,
      clientSecret: REDACTED,
      api_key: REDACTED,
      apiKey: REDACTED,
      "X-Api-Key": REDACTED,
      Authorization: REDACTED,
      refresh_token: REDACTED,
      max_tokens: 100,
      tokenized: true,
      list: [{ secret: REDACTED }, "plain"],
    },
  });
  for (const secret of ["hunter2", '"pw"', '"cs"', "k1", "k2", "k3", "abc", '"rt"', "value"]) {
    assert.ok(!text.includes(secret), `${secret} is not in ${text}`);
  }
});

Deno.test("redactText() replaces JWTs, bearer/basic credentials and known API key shapes inside any text", () => {
  assert.equal(redactText(`token is ${JWT} ok`), `token is ${REDACTED} ok`);
  assert.equal(
    redactText("Authorization: Bearer abcdef123456"),
    `Authorization: Bearer ${REDACTED}`,
  );
  assert.equal(redactText("basic dXNlcjpwYXNzd29yZA=="), `basic ${REDACTED}`);
  assert.equal(redactText("key sk-abcdefghijklmnopqrstu end"), `key ${REDACTED} end`);
  assert.equal(redactText("ghp_abcdefghijklmnopqrstuvwxyz0123"), REDACTED);
  assert.equal(redactText("AKIAABCDEFGHIJKLMNOP"), REDACTED);
  assert.equal(redactText("nothing secret here"), "nothing secret here");
  const { text } = boundedRedactedJson({ note: JWT, list: [`Bearer ${"x".repeat(20)}`] }, 4096);
  assert.deepEqual(JSON.parse(text), { note: REDACTED, list: [`Bearer ${REDACTED}`] });
});

Deno.test("boundedRedactedJson() cuts the text to maxBytes and says so; a small value is whole JSON", () => {
  const small = boundedRedactedJson({ a: 1, b: "two" }, 64);
  assert.deepEqual(small, { text: '{"a":1,"b":"two"}', truncated: false });
  const big = boundedRedactedJson({ blob: "x".repeat(10_000) }, 100);
  assert.equal(big.truncated, true);
  assert.equal(big.text.length, 100);
  assert.ok(big.text.startsWith('{"blob":"xxx'));
  // Exactly at the budget: not truncated.
  const exact = boundedRedactedJson("y".repeat(8), 10);
  assert.deepEqual(exact, { text: '"yyyyyyyy"', truncated: false });
});

Deno.test("boundedRedactedJson() counts UTF-8 bytes and never splits a character", () => {
  const { text, truncated } = boundedRedactedJson({ s: "é".repeat(100) }, 21);
  assert.equal(truncated, true);
  assert.ok(new TextEncoder().encode(text).byteLength <= 21);
  assert.ok(!text.includes("\uFFFD"), text);
  assert.equal(cutToBytes("aé", 2), "a");
  assert.equal(cutToBytes("aé", 3), "aé");
});

Deno.test("boundedRedactedJson() stops early on a huge value and handles undefined, NaN and deep nesting", () => {
  const huge = Array.from({ length: 200_000 }, (_, i) => ({ i, s: "some text" }));
  const { text, truncated } = boundedRedactedJson(huge, 256);
  assert.equal(truncated, true);
  assert.equal(text.length, 256);
  assert.equal(boundedRedactedJson(undefined, 16).text, "null");
  assert.equal(
    boundedRedactedJson({ a: undefined, b: NaN, c: [undefined] }, 64).text,
    '{"b":null,"c":[null]}',
  );
  let deep: unknown = { password: "pw" };
  for (let i = 0; i < 40; i++) deep = { d: deep };
  const whole = boundedRedactedJson(deep, 4096);
  assert.equal(whole.truncated, false);
  assert.match(whole.text, /\{"password":"\[redacted\]"\}/);
  assert.equal(boundedRedactedJson(deep, 64).truncated, true);
  assert.throws(() => boundedRedactedJson({}, 0), RangeError);
});

Deno.test("redactText() redacts URL passwords and credential-named key=value pairs in free text", () => {
  assert.equal(
    redactText("postgres://app:s3cr3tpw@db:5432/x"),
    `postgres://app:${REDACTED}@db:5432/x`,
  );
  assert.equal(
    redactText("https://api.example.com/v1?access_token=abc123&x=1"),
    `https://api.example.com/v1?access_token=${REDACTED}&x=1`,
  );
  assert.equal(
    redactText("login failed: password=hunter2, retry"),
    `login failed: password=${REDACTED}, retry`,
  );
  assert.equal(
    redactText('{"client_secret":"xyz","max_tokens":100}'),
    `{"client_secret":"${REDACTED}","max_tokens":100}`,
  );
  const plain = "max_tokens: 100, author=jo, https://example.com/a:b@c";
  assert.equal(redactText(plain), plain);
});
