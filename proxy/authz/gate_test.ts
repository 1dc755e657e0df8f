import assert from "node:assert/strict";
import type { Identity } from "../../core/auth/identity.ts";
import { CedarAuthorizer } from "./cedar.ts";
import { AuthzGate } from "./gate.ts";
import { PolicySlices } from "./slices.ts";

const id = (subject: string, groups: string[], exp = 1): Identity => ({
  issuer: "https://idp",
  subject,
  claims: { sub: subject, groups, exp },
});

function gate(policies: string[]) {
  return new AuthzGate(CedarAuthorizer.create({ policies, entitiesJson: "[]" }));
}

const tools = ["a", "b", "c"].map((name) => ({ name }));
const describe = (t: { name: string }) => ({ type: "Tool" as const, id: t.name, backend: "x" });

Deno.test("lists are filtered per caller; callers with the same rights share one array", () => {
  const g = gate([
    'permit(principal, action == Action::"call_tool", resource == Tool::"a");',
    'permit(principal, action == Action::"call_tool", resource) when { principal.claim_groups.contains("eng") };',
  ]);
  const eng1 = g.visible(id("alice", ["eng"]), "call_tool", tools, describe);
  assert.equal(eng1, tools, "everything allowed: the list itself");
  const ops1 = g.visible(id("bob", ["ops"]), "call_tool", tools, describe);
  const ops2 = g.visible(id("carol", ["ops"]), "call_tool", tools, describe);
  assert.deepEqual(ops1.map((t) => t.name), ["a"]);
  assert.equal(ops1, ops2, "same allowed set: the same array (page texts shared)");
  g.dispose();
});

Deno.test("a new token of the same caller (other exp) reuses the decisions; other claims do not", () => {
  const g = gate([
    'permit(principal, action, resource) when { principal.claim_groups.contains("eng") };',
  ]);
  const first = g.visible(id("alice", ["eng"], 1), "call_tool", tools, describe);
  assert.equal(g.visible(id("alice", ["eng"], 2), "call_tool", tools, describe), first);
  assert.deepEqual(g.visible(id("alice", [], 3), "call_tool", tools, describe), []);
  g.dispose();
});

Deno.test("a call's decision is the list's decision (same item)", () => {
  const g = gate(['permit(principal == Client::"alice", action, resource == Tool::"b");']);
  const alice = id("alice", []);
  assert.deepEqual(g.visible(alice, "call_tool", tools, describe).map((t) => t.name), ["b"]);
  assert.equal(g.allows(alice, "call_tool", describe(tools[1]!), tools[1]), true);
  assert.equal(g.allows(alice, "call_tool", describe(tools[0]!), tools[0]), false);
  assert.equal(g.allows(id("bob", []), "call_tool", describe(tools[1]!), tools[1]), false);
  g.dispose();
});

Deno.test("the principal cache is bounded", () => {
  const g = new AuthzGate(
    CedarAuthorizer.create({
      policies: ["permit(principal, action, resource);"],
      entitiesJson: "[]",
    }),
    { maxPrincipals: 2 },
  );
  // Distinct groups: callers the policies could tell apart.
  for (let i = 0; i < 5; i++) {
    assert.equal(g.visible(id(`u${i}`, [`g${i}`]), "call_tool", tools, describe), tools);
  }
  assert.equal(g.cachedPrincipals, 2);
  g.dispose();
});

Deno.test("callers the policies cannot tell apart share one principal; the subject counts when a policy uses it", () => {
  const byGroup = gate([
    'permit(principal, action, resource) when { principal.claim_groups.contains("eng") };',
  ]);
  for (const sub of ["a", "b", "c"]) {
    byGroup.visible(id(sub, ["eng"]), "call_tool", tools, describe);
  }
  assert.equal(byGroup.cachedPrincipals, 1);
  byGroup.dispose();
  const bySubject = gate(['permit(principal == Client::"a", action, resource);']);
  const seen = ["a", "b", "c"].map((sub) =>
    bySubject.visible(id(sub, ["eng"]), "call_tool", tools, describe).length
  );
  assert.deepEqual(seen, [3, 0, 0]);
  assert.equal(bySubject.cachedPrincipals, 3);
  bySubject.dispose();
});

Deno.test("long URIs a caller reads are decided each time, never kept in the authorization caches", () => {
  const policies = [
    'permit(principal, action == Action::"read_resource", resource) when { resource.uri like "file:///pub/*" };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"x");',
  ];
  const authz = CedarAuthorizer.create({ policies, entitiesJson: "[]" });
  let engineCalls = 0;
  const decide = authz.isAuthorized.bind(authz);
  authz.isAuthorized = (...a) => (engineCalls++, decide(...a));
  const g = new AuthzGate(authz);
  const caller = id("alice", []);
  const big = "x".repeat(64 * 1024); // up to server.maxBodyBytes in real requests
  const read = (uri: string) =>
    g.allows(caller, "read_resource", { type: "Resource", id: uri, backend: "b" });
  for (let i = 0; i < 5; i++) {
    assert.equal(read(`file:///pub/${i}/${big}`), true);
    assert.equal(read(`file:///priv/${i}/${big}`), false);
  }
  assert.equal(read(`file:///pub/0/${big}`), true);
  assert.equal(engineCalls, 11, "each long URI decided again (not kept per caller)");
  assert.equal(read("file:///pub/short"), true);
  assert.equal(read("file:///pub/short"), true);
  assert.equal(engineCalls, 12, "short URIs are kept");

  // Inside the engine's view: no per-principal decision and no request slice keeps a long id.
  const p = authz.principal(caller);
  for (let i = 0; i < 5; i++) {
    authz.isAuthorized(p, "read_resource", {
      type: "Resource",
      id: `file:///pub/${i}/${big}`,
      backend: "b",
    });
  }
  assert.equal(p.decisions.size, 0);
  const slices = new PolicySlices(
    Object.fromEntries(policies.map((t, i) => [`policy${i}`, t])),
    "gate-test-full",
    [true, false],
  );
  for (let i = 0; i < 5; i++) slices.setFor("read_resource", "Resource", `file:///${i}/${big}`);
  assert.equal(slices.cachedRequests, 0);
  slices.setFor("read_resource", "Resource", "file:///short");
  assert.equal(slices.cachedRequests, 1);
  slices.dispose();
  g.dispose();
});
