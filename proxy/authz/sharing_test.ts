import assert from "node:assert/strict";
import type { Identity } from "../../core/auth/identity.ts";
import { type AuthzAction, type AuthzResource, CedarAuthorizer } from "./cedar.ts";
import { PolicyReads } from "./sharing.ts";
import { AuthzGate } from "./gate.ts";

Deno.test("PolicyReads: the subject, claims and item id only when some policy reads them", () => {
  const r = new PolicyReads([
    'permit(principal in THVGroup::"eng", action, resource in Backend::"b") when { principal.claim_level > 2 };',
    'permit(principal, action, resource) when { context has claim_act && resource.backend == "x" };',
    'permit(principal, action, resource) when { resource.name like "read_*" };',
    'permit(principal, action, resource is Tool in Tool::"t");',
  ], "[]");
  assert.deepEqual(r.idSensitive, [false, false, true, true]);
  const k = (sub: string, claims: Record<string, unknown>, groups: string[] = []) =>
    r.principalKey(sub, claims, groups);
  assert.equal(k("a", { level: 3, email: "a@x" }), k("b", { level: 3, email: "b@x", exp: 9 }));
  assert.notEqual(k("a", { level: 3 }), k("a", { level: 4 }));
  assert.notEqual(k("a", { level: 3 }), k("a", { level: 3, act: { sub: "x" } }));
  assert.notEqual(k("a", {}, ["eng"]), k("a", {}, []));

  const bySubject = new PolicyReads(['permit(principal == Client::"a", action, resource);'], "[]");
  assert.notEqual(bySubject.principalKey("a", {}, []), bySubject.principalKey("b", {}, []));
  const wholeContext = new PolicyReads(
    ["permit(principal, action, resource) when { context == {} };"],
    "[]",
  );
  assert.notEqual(
    wholeContext.principalKey("a", { x: 1 }, []),
    wholeContext.principalKey("a", { x: 2 }, []),
  );
  const membersInEntities = new PolicyReads(
    ["permit(principal, action, resource);"],
    JSON.stringify([{
      uid: { type: "THVGroup", id: "g" },
      attrs: { m: { __entity: { type: "Client", id: "a" } } },
      parents: [],
    }]),
  );
  assert.notEqual(
    membersInEntities.principalKey("a", {}, []),
    membersInEntities.principalKey("b", {}, []),
  );
});

Deno.test("shared decisions equal the engine's one by one (sliced and cached vs whole set)", () => {
  const policies = [
    'permit(principal, action == Action::"call_tool", resource) when { principal.claim_groups.contains("g1") && resource.backend == "b1" };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"b2_t3");',
    'permit(principal, action, resource) when { resource.name like "*_t1" && context.claim_level > 1 };',
    'forbid(principal, action, resource) when { resource has destructiveHint && resource.destructiveHint && !principal.claim_groups.contains("admin") };',
    'permit(principal in THVGroup::"ops", action == Action::"call_tool", resource in Backend::"b0");',
    'permit(principal == Client::"root", action, resource);',
    'permit(principal, action == Action::"read_resource", resource) when { resource.uri like "file:///pub/*" };',
  ];
  const shared = CedarAuthorizer.create({ policies, entitiesJson: "[]" });
  const whole = CedarAuthorizer.create({ policies, entitiesJson: "[]" }, undefined, {
    slicing: false,
  });
  const who = (sub: string, claims: Record<string, unknown>): Identity => ({
    issuer: "i",
    subject: sub,
    claims: { sub, ...claims },
  });
  const callers = [
    who("a", { groups: ["g1"], level: 2 }),
    who("b", { groups: ["g1"], level: 2 }),
    who("c", { groups: ["ops"], level: 1 }),
    who("d", { groups: ["g1", "admin"] }),
    who("root", {}),
  ];
  const items: [AuthzAction, AuthzResource][] = [];
  for (let b = 0; b < 3; b++) {
    for (let t = 0; t < 5; t++) {
      items.push(["call_tool", {
        type: "Tool",
        id: `b${b}_t${t}`,
        backend: `b${b}`,
        annotations: { destructiveHint: t === 4, readOnlyHint: t === 0 },
      }]);
    }
    items.push(["read_resource", { type: "Resource", id: `file:///pub/${b}`, backend: `b${b}` }]);
    items.push(["read_resource", { type: "Resource", id: `file:///priv/${b}`, backend: `b${b}` }]);
  }
  let allowed = 0;
  for (const c of callers) {
    const [ps, pw] = [shared.principal(c), whole.principal(c)];
    for (let round = 0; round < 2; round++) {
      for (const [action, r] of items) {
        const got = shared.isAuthorized(ps, action, r);
        assert.equal(got, whole.isAuthorized(pw, action, r), `${c.subject} ${action} ${r.id}`);
        if (got) allowed++;
      }
    }
  }
  assert.ok(allowed > 0);
  shared.dispose();
  whole.dispose();
});

Deno.test("a decision is never shared between tokens whose claims a policy reads indirectly", () => {
  // Each policy reads a claim in a form other than `principal.claim_x`/`context.claim_x`; the
  // first caller is allowed, the second (same subject: a refreshed token) must not be.
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    [
      'permit(principal, action, resource) when { (if true then principal else principal).claim_role == "admin" };',
      { role: "admin" },
      { role: "user" },
    ],
    [
      "permit(principal, action, resource) when { principal has claim_realm.admin };",
      { realm: { admin: true } },
      { realm: { user: true } },
    ],
    [
      "permit(principal, action, resource) when { (if true then context else context).claim_exp < 100 };",
      { exp: 50 },
      { exp: 500 },
    ],
    [
      'permit(principal, action, resource) when { context == {claim_sub: "a", claim_exp: 50} };',
      { exp: 50 },
      { exp: 500 },
    ],
  ];
  const tool: AuthzResource = { type: "Tool", id: "t", backend: "b" };
  for (const [policy, first, second] of cases) {
    const gate = new AuthzGate(CedarAuthorizer.create({ policies: [policy], entitiesJson: "[]" }));
    const a: Identity = { issuer: "i", subject: "a", claims: { sub: "a", ...first } };
    const b: Identity = { issuer: "i", subject: "a", claims: { sub: "a", ...second } };
    assert.equal(gate.allows(a, "call_tool", tool, {}), true, policy);
    assert.equal(gate.allows(b, "call_tool", tool, {}), false, policy);
    gate.dispose();
  }
});

Deno.test("a tool whose hint is not a boolean does not share the decision of one whose hint is", () => {
  const authz = CedarAuthorizer.create({
    policies: [
      "permit(principal, action, resource) when { resource has readOnlyHint && resource.readOnlyHint };",
    ],
    entitiesJson: "[]",
  });
  const p = authz.principal({ issuer: "i", subject: "a", claims: { sub: "a" } });
  const tool = (id: string, readOnlyHint: unknown): AuthzResource => ({
    type: "Tool",
    id,
    backend: "b",
    annotations: { readOnlyHint },
  });
  assert.equal(authz.isAuthorized(p, "call_tool", tool("read", true)), true);
  assert.equal(authz.isAuthorized(p, "call_tool", tool("wipe", "true")), false);
  authz.dispose();
});

Deno.test("a shared decision is kept per action (a policy on the action never reuses another's)", () => {
  const authz = CedarAuthorizer.create({
    policies: ['permit(principal, action, resource) when { action == Action::"get_prompt" };'],
    entitiesJson: "[]",
  });
  const p = authz.principal({ issuer: "i", subject: "a", claims: { sub: "a" } });
  const t: AuthzResource = { type: "Tool", id: "t", backend: "b" };
  assert.equal(authz.isAuthorized(p, "call_tool", t), false);
  assert.equal(authz.isAuthorized(p, "get_prompt", t), true);
  authz.dispose();
});

Deno.test("PolicyReads: `is T in E` scopes read the subject or the id only as `in E` does", () => {
  const r = new PolicyReads(
    ['permit(principal is Client in THVGroup::"x", action, resource is Tool in Backend::"b");'],
    "[]",
  );
  assert.deepEqual(r.idSensitive, [false]);
  assert.equal(r.principalKey("a", {}, ["x"]), r.principalKey("b", {}, ["x"]));
  const byItem = new PolicyReads(
    ['permit(principal, action, resource is Tool in Tool::"t");'],
    "[]",
  );
  assert.deepEqual(byItem.idSensitive, [true]);
});
