/**
 * Truth-table cases of `rateLimiting` (crds/rate_limit.ts): ToolHive's form is accepted and
 * rendered as written; bad buckets, duplicate tools and per-user limits without authenticated
 * callers are refused by validate, the proxy and the controller alike, naming field and value.
 */
import assert from "node:assert/strict";
import type { TruthCase } from "./truth_table_cases.ts";

const oidc = {
  incomingAuth: {
    type: "oidc",
    oidcConfig: {
      type: "inline",
      inline: { issuer: "https://idp.example.test", audience: "vmcp" },
    },
  },
};
const hour = (maxTokens: unknown, refillPeriod: unknown = "1h") => ({ maxTokens, refillPeriod });

const TOOLHIVE_FORM = {
  global: hour(1000),
  perUser: hour(100, "1m"),
  tools: [
    { name: "one_search", global: hour(50), perUser: hour(5, "30s") },
    { name: "one_write", shared: hour(10) },
  ],
};

export const RATE_LIMIT_CASES: TruthCase[] = [
  {
    name: "rateLimiting in ToolHive's form (global, perUser, tools, the shared alias)",
    config: { ...oidc, rateLimiting: TOOLHIVE_FORM },
    check: (c) => assert.deepEqual(c.rateLimiting, TOOLHIVE_FORM),
    inCluster: {
      valid: true,
      check: (r) => assert.deepEqual(r.rateLimiting, TOOLHIVE_FORM, "rendered as written"),
    },
  },
  {
    name: "rateLimiting refillPeriod abc",
    config: { rateLimiting: { global: hour(10, "abc") } },
    path: "rateLimiting.global.refillPeriod",
    value: "abc",
    message: /must be a Go duration such as "30s"/,
  },
  {
    name: "rateLimiting refillPeriod 0s",
    config: { rateLimiting: { global: hour(10, "0s") } },
    path: "rateLimiting.global.refillPeriod",
    value: "0s",
    message: /allowed: 1ms to 8760h/,
  },
  {
    name: "rateLimiting maxTokens 0",
    config: { rateLimiting: { tools: [{ name: "t", global: hour(0) }] } },
    path: "rateLimiting.tools[0].global.maxTokens",
    value: 0,
    message: /allowed: 1 to 2147483647/,
  },
  {
    name: "rateLimiting perUser with anonymous incoming auth",
    config: { rateLimiting: { perUser: hour(5) } },
    path: "rateLimiting.perUser",
    message:
      /Needs authenticated callers, but incomingAuth.type is "anonymous".*oidc or kubernetes/,
  },
  {
    name: "rateLimiting tools[].perUser with anonymous incoming auth",
    config: { rateLimiting: { tools: [{ name: "t", perUser: hour(5) }] } },
    path: "rateLimiting.tools[0].perUser",
    message: /Needs authenticated callers/,
  },
  {
    name: "rateLimiting the same tool twice",
    config: {
      rateLimiting: { tools: [{ name: "t", global: hour(1) }, { name: "t", global: hour(2) }] },
    },
    path: "rateLimiting.tools[1].name",
    value: "t",
    message: /Duplicate tool "t"/,
  },
  {
    name: "rateLimiting global and its alias shared together",
    config: { rateLimiting: { global: hour(1), shared: hour(2) } },
    path: "rateLimiting.shared",
    message: /set only one of global and shared/,
  },
  {
    name: "rateLimiting a tool entry without a limit",
    config: { rateLimiting: { tools: [{ name: "t" }] } },
    path: "rateLimiting.tools[0]",
    message: /Tool "t" sets no limit; allowed: global, perUser/,
  },
];
