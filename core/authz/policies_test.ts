import assert from "node:assert/strict";
import { authzProblems, lineColumn, parseAuthzFile, policyProblems } from "./policies.ts";

Deno.test("a bad policy is reported with its index, line and column", () => {
  const good = 'permit(principal, action == Action::"call_tool", resource == Tool::"echo");';
  const bad =
    'permit(principal, action, resource)\n  when { principal.claim_groups.contains("x") && };';
  const problems = policyProblems([good, bad], "p");
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.path, "p[1]");
  assert.match(
    problems[0]!.message,
    /Invalid Cedar policy 1: line 2, column 50: unexpected token `}`/,
  );
});

Deno.test("two policies in one entry are refused (one policy per entry)", () => {
  const problems = policyProblems([
    "permit(principal, action, resource); forbid(principal, action, resource);",
  ], "p");
  assert.match(problems[0]!.message, /line 1, column 38: unexpected token `forbid`/);
});

Deno.test("Cedar byte offsets become character columns", () => {
  assert.deepEqual(lineColumn("// ééé\nab é)", 15), { line: 2, column: 5 });
});

Deno.test("authzConfig: configMap needs Kubernetes; bad entities are named", () => {
  const standalone = authzProblems(
    { type: "configMap", configMap: { name: "a", key: "authz.json" } },
    "a",
    true,
  );
  assert.equal(standalone[0]!.path, "a.type");
  const entities = authzProblems(
    {
      type: "inline",
      inline: { policies: ["permit(principal, action, resource);"], entitiesJson: "{" },
    },
    "a",
    false,
  );
  assert.equal(entities[0]!.path, "a.inline.entitiesJson");
  assert.deepEqual(
    authzProblems(
      {
        type: "inline",
        inline: { policies: ["permit(principal, action, resource);"], entitiesJson: "[]" },
      },
      "a",
      false,
    ),
    [],
  );
});

Deno.test("ToolHive's authz file is read (JSON), other types refused", () => {
  const src = parseAuthzFile(JSON.stringify({
    version: "1.0",
    type: "cedarv1",
    cedar: { policies: ["permit(principal, action, resource);"], entities_json: "[]" },
  }));
  assert.deepEqual(src, { policies: ["permit(principal, action, resource);"], entitiesJson: "[]" });
  assert.throws(
    () => parseAuthzFile('{"type":"httpv1","cedar":{"policies":["x"]}}'),
    /only "cedarv1"/,
  );
  assert.throws(() => parseAuthzFile('{"cedar":{"policies":[]}}'), /non-empty array/);
});

Deno.test("parseAuthzFile reads ToolHive's group options; a bad group_entity_type is named", () => {
  const src = parseAuthzFile(JSON.stringify({
    version: "1.0",
    type: "cedarv1",
    cedar: {
      policies: ["permit(principal, action, resource);"],
      entities_json: "[]",
      group_claim_name: "https://example.com/groups",
      role_claim_name: "realm_access.roles",
      group_entity_type: "Group",
    },
  }));
  assert.equal(src.groupClaimName, "https://example.com/groups");
  assert.equal(src.roleClaimName, "realm_access.roles");
  assert.equal(src.groupEntityType, "Group");
  assert.throws(
    () =>
      parseAuthzFile(JSON.stringify({
        cedar: { policies: ["permit(principal, action, resource);"], group_claim_name: ["g"] },
      })),
    /cedar\.group_claim_name must be a string, got \["g"\]/,
  );
  const problems = authzProblems(
    {
      type: "inline",
      inline: {
        policies: ["permit(principal, action, resource);"],
        entitiesJson: "[]",
        groupEntityType: "if",
      },
    },
    "incomingAuth.authzConfig",
    true,
  );
  assert.equal(problems[0]?.path, "incomingAuth.authzConfig.inline.groupEntityType");
});
