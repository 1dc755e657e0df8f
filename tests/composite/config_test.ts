import assert from "node:assert/strict";
import YAML from "yaml";
import { parseConfig, validateConfig } from "../../core/config/load.ts";
import { ConfigError } from "../../core/config/problems.ts";
import { repoRoot } from "../fixtures/mod.ts";
import { setup, textOf } from "./helpers.ts";

const BAD_CONFIG = `
name: demo
backends:
  - name: alpha
    url: http://127.0.0.1:9/mcp
compositeTools:
  - name: fine
    description: A valid workflow
    steps:
      - id: one
        tool: alpha_echo
  - name: broken
    description: Three mistakes
    steps:
      - id: fetch
        tool: alpha_echo
        dependsOn: [publish]
      - id: publish
        tool: alpha_echo
        dependsOn: [fetch]
        arguments:
          message: "{{.steps.fetch.output.text"
      - id: notify
        tool: alpha_echo
        dependsOn: [ghost]
`;

const find = (problems: { path: string; message: string }[], path: string, re: RegExp) =>
  problems.find((p) => p.path === path && re.test(p.message));

Deno.test("config validation reports a composite tool's cycle, template error and unknown step id with paths and step ids", () => {
  const { config, problems } = validateConfig(YAML.parse(BAD_CONFIG, { version: "1.1" }));
  assert.equal(config, undefined);
  const text = JSON.stringify(problems, null, 1);
  assert.ok(
    find(problems, "compositeTools[1].steps[0].dependsOn", /step "fetch".*cycle.*fetch.*publish/),
    text,
  );
  assert.ok(
    find(
      problems,
      "compositeTools[1].steps[1].arguments.message",
      /step "publish".*template syntax error.*\{\{\.steps\.fetch\.output\.text/,
    ),
    text,
  );
  assert.ok(
    find(
      problems,
      "compositeTools[1].steps[2].dependsOn[0]",
      /step "notify".*unknown step id "ghost"/,
    ),
    text,
  );
  assert.ok(!problems.some((p) => p.path.startsWith("compositeTools[0]")), text);
  assert.throws(() => parseConfig(BAD_CONFIG, { source: "bad.yaml" }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /Invalid bad\.yaml: 3 problem\(s\)/);
    return true;
  });
});

Deno.test("vmcp validate exits 2 listing every composite tool problem", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/bad.yaml`;
  try {
    await Deno.writeTextFile(file, BAD_CONFIG);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${repoRoot}/main.ts`, "validate", "--config", file],
      cwd: repoRoot,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(
      stderr,
      /compositeTools\[1\]\.steps\[0\]\.dependsOn: step "fetch": dependency cycle/,
    );
    assert.match(
      stderr,
      /compositeTools\[1\]\.steps\[1\]\.arguments\.message: step "publish": template syntax error/,
    );
    assert.match(
      stderr,
      /compositeTools\[1\]\.steps\[2\]\.dependsOn\[0\]: step "notify": unknown step id "ghost"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a composite tool calling an unknown tool is reported after discovery and not served, the others are", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [
      {
        name: "good",
        description: "Works",
        steps: [{ id: "one", tool: "alpha_echo", arguments: { message: "x" } }],
      },
      {
        name: "typo",
        description: "Calls a tool that does not exist",
        steps: [
          { id: "one", tool: "alpha_echo", arguments: { message: "x" } },
          { id: "two", tool: "alpha_ecoh", dependsOn: ["one"] },
        ],
      },
    ],
  });
  try {
    const problem = s.registry.problems.find((p) => p.path === "compositeTools[1].steps[1].tool");
    assert.ok(problem, JSON.stringify(s.registry.problems));
    assert.match(problem.message, /step "two": unknown tool "alpha_ecoh"/);
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("good") && !names.includes("typo"), names.join(","));
    await assert.rejects(s.client.callTool({ name: "typo", arguments: {} }), /Unknown tool/);
  } finally {
    await s.close();
  }
});

Deno.test("a composite tool named like an advertised backend tool, or claiming unearned safety, is not served", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [
      { name: "alpha_echo", description: "Collides", steps: [{ id: "one", tool: "alpha_add" }] },
      {
        name: "read_only_liar",
        description: "Says read-only, calls a tool that does not say so",
        annotations: { readOnlyHint: true },
        steps: [{ id: "one", tool: "alpha_counter" }],
      },
    ],
  });
  try {
    const paths = s.registry.problems.map((p) => `${p.path}: ${p.message}`);
    assert.ok(
      paths.some((p) =>
        /^compositeTools\[0\]\.name: .*already the name of tool "echo" of backend "alpha"/.test(p)
      ),
      paths.join("\n"),
    );
    assert.ok(
      paths.some((p) => /^compositeTools\[1\]\.annotations\.readOnlyHint: /.test(p)),
      paths.join("\n"),
    );
    // alpha_echo still reaches the backend tool.
    const r = await s.client.callTool({ name: "alpha_echo", arguments: { message: "hi" } });
    assert.equal(textOf(r), "hi");
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes("read_only_liar"), names.join(","));
  } finally {
    await s.close();
  }
});

Deno.test("a step reaches a tool that lost a name conflict through backend.originalTool", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }, { name: "beta" }],
    aggregation: {
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["alpha", "beta"] },
    },
    compositeTools: [{
      name: "both",
      description: "Echo on both backends",
      steps: [
        { id: "a", tool: "echo", arguments: { message: "one" } },
        { id: "b", tool: "beta.echo", arguments: { message: "two" } },
      ],
      output: {
        properties: {
          a: { type: "string", value: "{{.steps.a.output.backend}}" },
          b: { type: "string", value: "{{.steps.b.output.backend}}" },
        },
      },
    }],
  });
  try {
    const r = await s.client.callTool({ name: "both", arguments: {} });
    assert.equal(r.isError, undefined, textOf(r));
    assert.deepEqual(r.structuredContent, { a: "alpha", b: "beta" });
  } finally {
    await s.close();
  }
});
