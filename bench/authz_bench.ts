/**
 * Cedar authorization cost: `deno run -A bench/authz_bench.ts [--n=2000]`
 *
 * In-process, a real `Router` over 20 backends × 50 tools (1000 tools, a quarter read-only)
 * and a 50-policy Cedar set (ToolHive's form: per-tool permits by group claim, one forbid on
 * destructive tools), against the same router without authorization:
 *
 * 1. cached `tools/list` (the page object with its JSON text, as the transports send it) p50,
 *    without and with authz (same caller, decisions cached);
 * 2. the first `tools/list` of a caller the policies have not seen (new groups: the engine is
 *    asked once per kind of tool its policies can tell apart, here backend × annotations, not
 *    once per tool: proxy/authz/sharing.ts), and of a new caller the policies cannot tell from an
 *    earlier one (other subject and email, same groups: decisions and list shared);
 * 3. authorization per call: cached decision (after a list), and one engine decision (a fresh
 *    principal each time, so nothing is shared).
 *
 * Targets: cached list ≤ 2× without authz; per call ≤ 50 µs p50. Prints JSON on stdout.
 * @module
 */
import { parseArgs } from "node:util";
import type { Identity } from "../core/auth/identity.ts";
import { aggregate } from "../core/aggregation/mod.ts";
import type { Tool } from "../core/sdk.ts";
import { Router, type RouterState } from "../proxy/router.ts";
import { CedarAuthorizer } from "../proxy/authz/cedar.ts";
import { AuthzGate } from "../proxy/authz/gate.ts";
import { jsonTextOf } from "../proxy/preserialized.ts";
import { p50, timeAsync } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "2000" } },
});
const N = Number(values.n);

const caps = Array.from({ length: 20 }, (_, b) => ({
  backend: `b${b}`,
  tools: Array.from({ length: 50 }, (_, t): Tool => ({
    name: `tool_${t}`,
    description: `Tool ${t} of backend ${b}: does something useful with its input`,
    inputSchema: { type: "object", properties: { message: { type: "string" } } },
    annotations: { readOnlyHint: t % 4 === 0, destructiveHint: t % 10 === 9 },
  })),
  resources: [],
  resourceTemplates: [],
  prompts: [],
}));
const view = aggregate(caps, undefined);

function state(authz?: AuthzGate): RouterState {
  return {
    view,
    fullView: view,
    lists: { tools: view.tools, resources: [], resourceTemplates: [], prompts: [] },
    extraTools: new Map(),
    backend: () => undefined,
    assertRoutable: () => {},
    failingBackends: () => [],
    ready: () => Promise.resolve(),
    undiscoveredBackends: () => [],
    authz,
  };
}

const policies = [
  ...Array.from(
    { length: 49 },
    (_, i) =>
      `permit(principal, action == Action::"call_tool", resource) when { principal.claim_groups.contains("g${i}") && resource.backend == "b${
        i % 20
      }" };`,
  ),
  'forbid(principal, action, resource) when { resource has destructiveHint && resource.destructiveHint && !principal.claim_groups.contains("admin") };',
];
const cedar = CedarAuthorizer.create({ policies, entitiesJson: "[]" });
const gate = new AuthzGate(cedar);
const who = (sub: string, groups: string[]): Identity => ({
  issuer: "https://idp",
  subject: sub,
  claims: { sub, groups, email: `${sub}@example.test`, exp: 1 },
});

const plain = new Router(state());
const gated = new Router(state(gate));
const alice = who("alice", ["g0", "g1", "g2", "g3", "g20", "g21"]);
const list = (r: Router, id?: Identity) => async () => {
  const page = await r.listTools(undefined, id);
  if (!jsonTextOf(page)) throw new Error("no page text");
};

// Warm-up, then interleaved rounds so drift hits both alike.
await timeAsync(200, list(plain));
await timeAsync(200, list(gated, alice));
// A caller allowed every tool gets the very same list (and page text) as without authz.
const root = who("root", [...Array.from({ length: 49 }, (_, i) => `g${i}`), "admin"]);
await timeAsync(50, list(gated, root));
const without: number[] = [], withAuthz: number[] = [], withAll: number[] = [];
for (let round = 0; round < 5; round++) {
  without.push(...await timeAsync(N / 5, list(plain)));
  withAuthz.push(...await timeAsync(N / 5, list(gated, alice)));
  withAll.push(...await timeAsync(N / 5, list(gated, root)));
}

const coldNew = await timeAsync(
  5,
  (i) => gated.listTools(undefined, who(`new${i}`, ["g5", `extra${i}`])),
);
// The same first list with one engine decision per tool (no slices, nothing shared): the
// cost without proxy/authz/sharing.ts and slices.ts, in the same run.
const unshared = CedarAuthorizer.create({ policies, entitiesJson: "[]" }, undefined, {
  slicing: false,
});
const coldUnshared = await timeAsync(
  2,
  (i) => new Router(state(new AuthzGate(unshared))).listTools(undefined, who(`u${i}`, ["g5"])),
);
unshared.dispose();
const sameRights = await timeAsync(5, (i) => gated.listTools(undefined, who(`same${i}`, ["g5"])));
const visible = (await gated.listTools(undefined, alice)).tools as Tool[];

const first = visible[0]!;
const route = view.toolRoutes.get(first.name)!;
const resource = {
  type: "Tool" as const,
  id: first.name,
  backend: route.backend,
  annotations: first.annotations,
};
const cachedCall = await timeAsync(
  N,
  () => Promise.resolve(gate.allows(alice, "call_tool", resource, route.tool)),
);
// A fresh principal each time: its shared-decision cache is empty (one engine call).
const engineCall = await timeAsync(
  Math.min(N, 500),
  () => Promise.resolve(cedar.isAuthorized(cedar.principal(alice), "call_tool", resource)),
);

// ToolHive's common form names the tool in the scope: most requests then need few policies
// (policy slices) or none (deny without the engine).
const scopedCedar = CedarAuthorizer.create({
  policies: [
    ...Array.from(
      { length: 49 },
      (_, i) =>
        `permit(principal, action == Action::"call_tool", resource == Tool::"b${
          i % 20
        }_tool_${i}");`,
    ),
    "forbid(principal, action, resource) when { resource has destructiveHint && resource.destructiveHint };",
  ],
  entitiesJson: "[]",
});
// These policies read nothing of the caller: all callers share one principal, so each round
// takes a new gate (no decisions yet; the preparsed slices stay, as they do in the proxy).
const coldScoped = await timeAsync(
  5,
  (i) => new Router(state(new AuthzGate(scopedCedar))).listTools(undefined, who(`s${i}`, [])),
);
scopedCedar.dispose();

const result = {
  tools: view.tools.length,
  policies: policies.length,
  visibleToAlice: visible.length,
  cachedListP50us: {
    without: +p50(without).toFixed(1),
    withAuthz180Visible: +p50(withAuthz).toFixed(1),
    withAuthzAllVisible: +p50(withAll).toFixed(1),
  },
  cachedListRatioAllVisible: +(p50(withAll) / p50(without)).toFixed(2),
  firstListOfNewCallerMs: {
    conditionPolicies: +(p50(coldNew) / 1000).toFixed(1),
    conditionPoliciesOneDecisionPerTool: +(p50(coldUnshared) / 1000).toFixed(1),
    sameRightsAsAnEarlierCaller: +(p50(sameRights) / 1000).toFixed(3),
    scopeNamedPolicies: +(p50(coldScoped) / 1000).toFixed(2),
  },
  perCallP50us: {
    cachedDecision: +p50(cachedCall).toFixed(2),
    engineDecision: +p50(engineCall).toFixed(1),
  },
};
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"));
gate.dispose();
