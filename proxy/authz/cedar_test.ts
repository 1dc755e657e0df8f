import assert from "node:assert/strict";
import type { Identity } from "../../core/auth/identity.ts";
import { ConfigError } from "../../core/config/problems.ts";
import { CedarAuthorizer, toCedarValue } from "./cedar.ts";

const alice: Identity = {
  issuer: "https://idp",
  subject: "alice",
  claims: { sub: "alice", groups: ["eng"], email: "alice@example.test", level: 3 },
};
const bob: Identity = { issuer: "https://idp", subject: "bob", claims: { sub: "bob", groups: [] } };

function authorizer(policies: string[], entitiesJson = "[]") {
  return CedarAuthorizer.create({ policies, entitiesJson });
}

Deno.test("ToolHive-style policies: principal, claims, groups, annotations, backend", () => {
  const a = authorizer([
    'permit(principal == Client::"alice", action == Action::"call_tool", resource == Tool::"echo");',
    'permit(principal, action == Action::"call_tool", resource) when { principal.claim_groups.contains("eng") && resource.readOnlyHint == true };',
    'permit(principal in THVGroup::"eng", action == Action::"get_prompt", resource in Backend::"docs");',
    "forbid(principal, action, resource) when { resource has destructiveHint && resource.destructiveHint };",
    'permit(principal, action == Action::"read_resource", resource) when { context.claim_level > 2 && resource.uri like "file:///pub/*" };',
  ]);
  const pa = a.principal(alice);
  const pb = a.principal(bob);
  const tool = (id: string, annotations?: Record<string, unknown>) => ({
    type: "Tool" as const,
    id,
    backend: "b",
    annotations,
  });
  assert.equal(a.isAuthorized(pa, "call_tool", tool("echo")), true);
  assert.equal(a.isAuthorized(pb, "call_tool", tool("echo")), false);
  assert.equal(a.isAuthorized(pa, "call_tool", tool("read", { readOnlyHint: true })), true);
  assert.equal(a.isAuthorized(pb, "call_tool", tool("read", { readOnlyHint: true })), false);
  assert.equal(a.isAuthorized(pa, "call_tool", tool("echo", { destructiveHint: true })), false);
  assert.equal(
    a.isAuthorized(pa, "get_prompt", { type: "Prompt", id: "p", backend: "docs" }),
    true,
  );
  assert.equal(
    a.isAuthorized(pa, "get_prompt", { type: "Prompt", id: "p", backend: "other" }),
    false,
  );
  assert.equal(
    a.isAuthorized(pa, "read_resource", { type: "Resource", id: "file:///pub/a", backend: "b" }),
    true,
  );
  assert.equal(
    a.isAuthorized(pa, "read_resource", { type: "Resource", id: "file:///priv/a", backend: "b" }),
    false,
  );
  a.dispose();
});

Deno.test("arguments reach policies as arg_<name>", () => {
  const a = authorizer([
    'permit(principal, action == Action::"call_tool", resource == Tool::"echo") when { resource.arg_message == "hi" };',
  ]);
  assert.equal(a.usesArguments, true);
  const p = a.principal(alice);
  assert.equal(
    a.isAuthorized(p, "call_tool", { type: "Tool", id: "echo" }, { message: "hi" }),
    true,
  );
  assert.equal(
    a.isAuthorized(p, "call_tool", { type: "Tool", id: "echo" }, { message: "no" }),
    false,
  );
  a.dispose();
});

Deno.test("entitiesJson: a group hierarchy from the config", () => {
  const a = authorizer(
    ['permit(principal in THVGroup::"staff", action, resource);'],
    JSON.stringify([
      {
        uid: { type: "THVGroup", id: "eng" },
        attrs: {},
        parents: [{ type: "THVGroup", id: "staff" }],
      },
    ]),
  );
  assert.equal(a.isAuthorized(a.principal(alice), "call_tool", { type: "Tool", id: "x" }), true);
  assert.equal(a.isAuthorized(a.principal(bob), "call_tool", { type: "Tool", id: "x" }), false);
  a.dispose();
});

Deno.test("bad policies: ConfigError naming the policy, line and column", () => {
  assert.throws(
    () =>
      authorizer(["permit(principal, action, resource);", "permit(principal,\n action resource);"]),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems[0]!.path, "incomingAuth.authzConfig.inline.policies[1]");
      assert.match(e.problems[0]!.message, /line 2, column 9/);
      return true;
    },
  );
});

Deno.test("claim values: Cedar escapes are never taken from data", () => {
  assert.deepEqual(toCedarValue({ __entity: { type: "Client", id: "x" }, a: [1, "b", null] }), {
    a: [1, "b"],
  });
  assert.deepEqual(toCedarValue(1.5), { __extn: { fn: "decimal", arg: "1.5000" } });
});

Deno.test("policy slices: decisions equal the full set's (scope-named policies)", () => {
  const policies = [
    'permit(principal, action == Action::"call_tool", resource == Tool::"a");',
    'permit(principal, action in [Action::"get_prompt", Action::"read_resource"], resource);',
    'permit(principal, action, resource is Prompt) when { principal.claim_groups.contains("eng") };',
    'forbid(principal, action == Action::"call_tool", resource == Tool::"b");',
    'permit(principal in THVGroup::"eng", action == Action::"call_tool", resource in Backend::"x");',
    'forbid(principal, action, resource) when { resource.name == "p2" };',
  ];
  const a = authorizer(policies);
  const whole = CedarAuthorizer.create({ policies, entitiesJson: "[]" }, undefined, {
    slicing: false,
  });
  for (const who of [alice, bob]) {
    const [pa, pw] = [a.principal(who), whole.principal(who)];
    for (const action of ["call_tool", "get_prompt", "read_resource"] as const) {
      for (
        const r of [
          { type: "Tool" as const, id: "a", backend: "x" },
          { type: "Tool" as const, id: "b", backend: "x" },
          { type: "Tool" as const, id: "c", backend: "y" },
          { type: "Prompt" as const, id: "p1", backend: "y" },
          { type: "Prompt" as const, id: "p2", backend: "y" },
          { type: "Resource" as const, id: "file:///r", backend: "y" },
        ]
      ) {
        assert.equal(
          a.isAuthorized(pa, action, r),
          whole.isAuthorized(pw, action, r),
          `${who.subject} ${action} ${r.type}::${r.id}`,
        );
      }
    }
  }
  assert.equal(a.isAuthorized(a.principal(alice), "call_tool", { type: "Tool", id: "a" }), true);
  assert.equal(
    a.isAuthorized(a.principal(alice), "call_tool", { type: "Tool", id: "b", backend: "x" }),
    false,
  );
  assert.equal(
    a.isAuthorized(a.principal(alice), "call_tool", { type: "Tool", id: "c", backend: "x" }),
    true,
  );
  a.dispose();
  whole.dispose();
});
