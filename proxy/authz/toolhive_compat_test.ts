/**
 * ToolHive's Cedar policies, verbatim from its docs (docs/authz.md) and its authorizer's tests
 * (pkg/authz/authorizers/cedar/core_test.go), decide here as they do in ToolHive: the entity
 * model (cedar.ts) is ToolHive's. Real Cedar engine; the cases name ToolHive's expectations.
 */
import assert from "node:assert/strict";
import type { Identity } from "../../core/auth/identity.ts";
import { type AuthzAction, type AuthzResource, CedarAuthorizer, sanitizeUri } from "./cedar.ts";

function who(sub: string, claims: Record<string, unknown> = {}): Identity {
  return { issuer: "https://idp", subject: sub, claims: { sub, ...claims } };
}

function decide(
  policies: string[],
  identity: Identity,
  action: AuthzAction,
  resource: AuthzResource,
  args?: Record<string, unknown>,
  serverName?: string,
): boolean {
  const a = CedarAuthorizer.create({ policies, entitiesJson: "[]" }, undefined, { serverName });
  try {
    return a.isAuthorized(a.principal(identity), action, resource, args);
  } finally {
    a.dispose();
  }
}

const tool = (id: string, extra: Partial<AuthzResource> = {}): AuthzResource => ({
  type: "Tool",
  id,
  backend: "b",
  ...extra,
});
const resource = (uri: string): AuthzResource => ({ type: "Resource", id: uri, backend: "b" });

Deno.test("ToolHive docs/authz.md example policies decide as documented", () => {
  const user = who("user123", { name: "John Doe", roles: ["admin"] });
  const other = who("someone", { name: "Jane", roles: ["user"] });
  const docs = [
    'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
    'permit(principal, action == Action::"get_prompt", resource == Prompt::"greeting");',
    'permit(principal, action == Action::"read_resource", resource == Resource::"data");',
  ];
  assert.equal(decide(docs, other, "call_tool", tool("weather")), true);
  assert.equal(decide(docs, other, "call_tool", tool("other")), false);
  assert.equal(decide(docs, other, "get_prompt", { type: "Prompt", id: "greeting" }), true);
  assert.equal(decide(docs, other, "read_resource", resource("data")), true);
  assert.equal(decide(docs, other, "read_resource", resource("file:///data")), false);

  const oneClient = [
    'permit(principal == Client::"user123", action == Action::"call_tool", resource);',
  ];
  assert.equal(decide(oneClient, user, "call_tool", tool("anything")), true);
  assert.equal(decide(oneClient, other, "call_tool", tool("anything")), false);

  const role = [
    'permit(principal, action == Action::"call_tool", resource) when { principal.claim_roles.contains("admin") };',
  ];
  assert.equal(decide(role, user, "call_tool", tool("x")), true);
  assert.equal(decide(role, other, "call_tool", tool("x")), false);

  const calc = [
    `permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when {
  resource.arg_operation == "add" || resource.arg_operation == "subtract"
};`,
  ];
  assert.equal(decide(calc, other, "call_tool", tool("calculator"), { operation: "add" }), true);
  assert.equal(decide(calc, other, "call_tool", tool("calculator"), { operation: "mul" }), false);

  for (const attr of ["principal.claim_name", "context.claim_name"]) {
    const named = [
      `permit(principal, action == Action::"call_tool", resource == Tool::"weather") when {
  ${attr} == "John Doe"
};`,
    ];
    assert.equal(decide(named, user, "call_tool", tool("weather")), true, attr);
    assert.equal(decide(named, other, "call_tool", tool("weather")), false, attr);
  }
  for (const attr of ["resource.arg_location", "context.arg_location"]) {
    const located = [
      `permit(principal, action == Action::"call_tool", resource == Tool::"weather") when {
  ${attr} == "New York" || ${attr} == "London"
};`,
    ];
    assert.equal(
      decide(located, other, "call_tool", tool("weather"), { location: "London" }),
      true,
    );
    assert.equal(
      decide(located, other, "call_tool", tool("weather"), { location: "Paris" }),
      false,
    );
  }
});

Deno.test("ToolHive core_test.go AuthorizeWithJWTClaims cases decide as ToolHive expects", () => {
  const weatherByName = [`
			permit(
				principal,
				action == Action::"call_tool",
				resource == Tool::"weather"
			)
			when {
				context.claim_name == "John Doe"
			};
			`];
  const john = who("user123", { name: "John Doe", roles: ["user", "reader"] });
  const jane = who("user123", { name: "Jane Smith", roles: ["user", "reader"] });
  assert.equal(decide(weatherByName, john, "call_tool", tool("weather")), true);
  assert.equal(decide(weatherByName, jane, "call_tool", tool("weather")), false);

  const calculator = [`
			permit(
				principal,
				action == Action::"call_tool",
				resource == Tool::"calculator"
			)
			when {
				context.arg_operation == "add" && context.arg_value1 == 5
			};
			`];
  const args = { operation: "add", value1: 5, value2: 10 };
  assert.equal(decide(calculator, john, "call_tool", tool("calculator"), args), true);
  assert.equal(
    decide(calculator, john, "call_tool", tool("calculator"), { ...args, value1: 6 }),
    false,
  );

  const editors = [`
			permit(
				principal,
				action == Action::"read_resource",
				resource == Resource::"sensitive_data"
			)
			when {
				context.claim_groups.contains("editor")
			};
			`];
  const editor = who("user123", { groups: ["reader", "editor", "viewer"] });
  assert.equal(decide(editors, editor, "read_resource", resource("sensitive_data")), true);
  assert.equal(decide(editors, john, "read_resource", resource("sensitive_data")), false);

  const sameNameAndUri = [
    'permit(principal, action == Action::"read_resource", resource) when { resource.name == resource.uri };',
  ];
  assert.equal(decide(sameNameAndUri, john, "read_resource", resource("sensitive_data")), true);

  const delegated = [`
			permit(
				principal,
				action == Action::"call_tool",
				resource == Tool::"deploy"
			)
			when {
				context.claim_sub == "user@example.com" &&
				context has claim_act &&
				context.claim_act.sub like "spiffe://toolhive.dev/ns/agents/sa/*"
			};
			`];
  const agent = who("user@example.com", {
    act: { sub: "spiffe://toolhive.dev/ns/agents/sa/devops-agent" },
  });
  const attacker = who("user@example.com", {
    act: { sub: "spiffe://evil.example.com/ns/agents/sa/attacker" },
  });
  const direct = who("user@example.com");
  assert.equal(decide(delegated, agent, "call_tool", tool("deploy")), true);
  assert.equal(decide(delegated, attacker, "call_tool", tool("deploy")), false);
  assert.equal(decide(delegated, direct, "call_tool", tool("deploy")), false);

  const noDelegatedAdmin = [
    `permit(principal, action == Action::"call_tool", resource);`,
    `forbid(principal, action == Action::"call_tool", resource == Tool::"admin_reset")
				when { context has claim_act };`,
  ];
  assert.equal(decide(noDelegatedAdmin, agent, "call_tool", tool("admin_reset")), false);
  assert.equal(decide(noDelegatedAdmin, direct, "call_tool", tool("admin_reset")), true);
});

Deno.test('ToolHive resource ids: Resource::"<sanitized uri>" and Resource::"<uri>" both name a resource', () => {
  const uri = "file:///data/readme.txt";
  assert.equal(sanitizeUri(uri), "file____data_readme_txt");
  const alice = who("alice");
  const toolhive = [
    'permit(principal, action == Action::"read_resource", resource == Resource::"file____data_readme_txt");',
  ];
  assert.equal(decide(toolhive, alice, "read_resource", resource(uri)), true);
  assert.equal(decide(toolhive, alice, "read_resource", resource("file:///data/other.txt")), false);
  const raw = [
    `permit(principal, action == Action::"read_resource", resource == Resource::"${uri}");`,
  ];
  assert.equal(decide(raw, alice, "read_resource", resource(uri)), true);
  // A forbid naming either id wins over a permit naming the other (Cedar's rule over both).
  assert.equal(
    decide(
      [...raw, 'forbid(principal, action, resource == Resource::"file____data_readme_txt");'],
      alice,
      "read_resource",
      resource(uri),
    ),
    false,
  );
  assert.equal(
    decide(
      [...toolhive, `forbid(principal, action, resource == Resource::"${uri}");`],
      alice,
      "read_resource",
      resource(uri),
    ),
    false,
  );
});

Deno.test('ToolHive server scope: resources are in MCP::"<server name>"; groups are THVGroup parents', () => {
  const scoped = [
    'permit(principal, action == Action::"call_tool", resource in MCP::"github");',
    'permit(principal in THVGroup::"eng", action == Action::"get_prompt", resource);',
  ];
  const alice = who("alice", { groups: ["eng"] });
  const bob = who("bob", { roles: ["ops"] });
  assert.equal(decide(scoped, bob, "call_tool", tool("x"), undefined, "github"), true);
  assert.equal(decide(scoped, bob, "call_tool", tool("x"), undefined, "other"), false);
  assert.equal(decide(scoped, alice, "get_prompt", { type: "Prompt", id: "p" }), true);
  assert.equal(decide(scoped, bob, "get_prompt", { type: "Prompt", id: "p" }), false);
});

Deno.test("prompt arguments reach policies as arg_<name> (ToolHive passes them for prompts/get)", () => {
  const p = [
    'permit(principal, action == Action::"get_prompt", resource == Prompt::"greeting") when { context.arg_lang == "en" };',
  ];
  const alice = who("alice");
  const greeting: AuthzResource = { type: "Prompt", id: "greeting", backend: "b" };
  assert.equal(decide(p, alice, "get_prompt", greeting, { lang: "en" }), true);
  assert.equal(decide(p, alice, "get_prompt", greeting, { lang: "fr" }), false);
});

Deno.test("ToolHive group options: groupClaimName (URL-style or dotted path), roleClaimName, groupEntityType", () => {
  const make = (
    opts: { groupClaimName?: string; roleClaimName?: string; groupEntityType?: string },
  ) =>
    CedarAuthorizer.create({
      policies: [
        `permit(principal in ${opts.groupEntityType ?? "THVGroup"}::"eng", action, resource);`,
      ],
      entitiesJson: "[]",
      ...opts,
    });
  const allowed = (a: CedarAuthorizer, claims: Record<string, unknown>) =>
    a.isAuthorized(a.principal(who("u", claims)), "call_tool", tool("x"));
  const url = make({ groupClaimName: "https://example.com/groups" });
  assert.equal(allowed(url, { "https://example.com/groups": ["eng"] }), true);
  // The configured claim absent: the well-known ones are tried, as when unset.
  assert.equal(allowed(url, { groups: ["eng"] }), true);
  assert.equal(allowed(url, { "https://example.com/groups": [], groups: ["eng"] }), false);
  url.dispose();
  const keycloak = make({ roleClaimName: "realm_access.roles", groupEntityType: "Role" });
  assert.equal(allowed(keycloak, { realm_access: { roles: ["eng"] } }), true);
  assert.equal(allowed(keycloak, { groups: ["ops"], realm_access: { roles: ["eng"] } }), true);
  assert.equal(allowed(keycloak, { realm_access: { roles: ["ops"] } }), false);
  keycloak.dispose();
  assert.throws(
    () => make({ groupEntityType: "Platform::Group" }),
    /groupEntityType: Not a plain Cedar identifier/,
  );
});
