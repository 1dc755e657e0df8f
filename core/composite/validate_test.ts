import assert from "node:assert/strict";
import { compileCompositeTool, type ToolCatalogue } from "./compile.ts";
import { validateCompositeTool } from "./validate.ts";

export const catalogue: ToolCatalogue = {
  resolve(ref) {
    const known: Record<string, Record<string, unknown>> = {
      "github_create_issue": {
        type: "object",
        properties: { title: { type: "string" }, count: { type: "integer" } },
      },
      "github.list_issues": { type: "object", properties: {} },
      "echo": { type: "object", properties: { text: { type: "string" } } },
    };
    const schema = known[ref];
    return schema ? { advertisedName: ref.replace(".", "_"), inputSchema: schema } : undefined;
  },
};

const find = (problems: { path: string; message: string }[], path: string, re: RegExp) =>
  problems.find((p) => p.path === path && re.test(p.message));

Deno.test("validateCompositeTool accepts a valid workflow and applies defaults", () => {
  const r = compileCompositeTool({
    name: "triage",
    description: "Triage issues",
    parameters: { type: "object", properties: { repo: { type: "string", default: "a/b" } } },
    steps: [
      { id: "list", tool: "github.list_issues", arguments: { repo: "{{.params.repo}}" } },
      {
        id: "file",
        tool: "github_create_issue",
        arguments: { title: "{{.steps.list.output.text}}" },
      },
    ],
  }, catalogue);
  assert.deepEqual(r.problems, []);
  assert.ok(r.ok);
  assert.equal(r.workflow.timeoutMs, 30 * 60_000);
  assert.equal(r.workflow.steps[0]!.timeoutMs, 5 * 60_000);
  assert.equal(r.workflow.steps[0]!.type, "tool");
  // The template reference made "file" depend on "list".
  assert.deepEqual(r.workflow.steps[1]!.deps, ["list"]);
  assert.equal(r.workflow.inputSchema.type, "object");
});

Deno.test("validateCompositeTool reports every problem in one run with paths and values", () => {
  const problems = validateCompositeTool({
    name: "bad",
    description: "Bad workflow",
    steps: [
      { id: "a", tool: "echo", dependsOn: ["c"] },
      { id: "b", tool: "no_such_tool", dependsOn: ["ghost"] },
      { id: "c", tool: "echo", dependsOn: ["a"], arguments: { text: "{{.params.x" } },
      { id: "d", type: "forEach", step: { tool: "echo" } },
      { id: "e", type: "elicitation" },
      { id: "a", tool: "echo" },
      { id: "f", tool: "echo", onError: { action: "retry" } },
      { id: "g", tool: "echo", arguments: { text: "{{.steps.nobody.output.x}}" } },
      { id: "h", tool: "echo", timeout: "5 minutes" },
      { id: "i", tool: "echo", condition: "{{eq .steps.a.output.action 'accept'}}" },
    ],
    output: { properties: { x: { type: "strin", value: "{{.steps.a.output.text}}" } } },
  }, catalogue);
  const expect: [string, RegExp][] = [
    ["steps[0].dependsOn", /dependency cycle: a -> c -> a/],
    ["steps[1].tool", /unknown tool "no_such_tool"/],
    ["steps[1].dependsOn[0]", /unknown step id "ghost"/],
    [
      "steps[2].arguments.text",
      /template syntax error at 1:3: unclosed action in "\{\{\.params\.x"/,
    ],
    ["steps[3].collection", /is required for forEach steps/],
    ["steps[4].message", /is required for elicitation steps/],
    ["steps[5].id", /duplicate step id "a" \(first used by steps\[0\]\)/],
    ["steps[6].onError.retryCount", /is required when action is retry/],
    ["steps[7].arguments.text", /template reads unknown step "nobody"/],
    ["steps[8].timeout", /Go duration.*\(got "5 minutes"\)/],
    ["steps[9].condition", /single quotes/],
    ["output.properties.x.type", /\(got "strin"\)/],
  ];
  for (const [path, re] of expect) {
    assert.ok(
      find(problems, path, re),
      `missing ${path} ${re}; got:\n${JSON.stringify(problems, null, 1)}`,
    );
  }
});

Deno.test("a skippable step read by later templates needs defaultResults keys", () => {
  const problems = validateCompositeTool({
    name: "t",
    description: "d",
    steps: [
      { id: "maybe", tool: "echo", condition: "{{.params.go}}" },
      { id: "soft", tool: "echo", onError: { action: "continue" }, defaultResults: { n: 0 } },
      {
        id: "use",
        tool: "echo",
        arguments: { text: "{{.steps.maybe.output.v}} {{.steps.soft.output.n}}" },
      },
    ],
  }, catalogue);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.equal(problems[0]!.path, "steps[0].defaultResults");
  assert.match(problems[0]!.message, /needs key "v": steps\[2\]\.arguments\.text reads/);
});

Deno.test("fields of another step type, ambiguous steps and bad itemVar are rejected", () => {
  const problems = validateCompositeTool({
    name: "t",
    description: "d",
    steps: [
      { id: "x", tool: "echo", message: "hi" },
      {
        id: "y",
        type: "forEach",
        collection: "{{json .params.items}}",
        itemVar: "index",
        step: { tool: "echo", arguments: { text: "{{.forEach.index}}" } },
      },
      { id: "z", type: "elicitation", message: "ok?", tool: "echo" },
    ],
  }, catalogue);
  assert.ok(find(problems, "steps[0].type", /is required when both tool and message/));
  assert.ok(find(problems, "steps[0].message", /only used by elicitation steps/));
  assert.ok(find(problems, "steps[1].itemVar", /cannot be "index"/));
  assert.ok(find(problems, "steps[2].tool", /only used by tool steps/));
});

Deno.test("parameters and output schemas are checked", () => {
  const problems = validateCompositeTool({
    name: "t",
    description: "d",
    parameters: {
      type: "array",
      properties: { n: { type: "int", default: 1 } },
      required: ["m"],
    },
    steps: [{ id: "a", tool: "echo" }],
    output: {
      properties: {
        s: { type: "string", properties: { q: { type: "string", value: "x" } } },
        o: { type: "object", properties: { deep: { type: "nope" } } },
      },
      required: ["missing"],
    },
  }, catalogue);
  assert.ok(find(problems, "parameters.type", /must be "object", got "array"/));
  assert.ok(find(problems, "parameters.properties.n.type", /unknown type "int"/));
  assert.ok(find(problems, "parameters.required", /names "m", which is not in properties/));
  assert.ok(find(problems, "output.properties.s.properties", /only object properties/));
  assert.ok(find(problems, "output.properties.o.properties.deep.type", /Invalid option/));
  assert.ok(find(problems, "output.required[0]", /names "missing"/));
});

Deno.test("tools are not checked without a catalogue; hidden tools resolve through it", () => {
  const def = { name: "t", description: "d", steps: [{ id: "a", tool: "anything" }] };
  assert.deepEqual(validateCompositeTool(def), []);
  const hidden: ToolCatalogue = {
    resolve: (r) => r === "backend.hidden_tool" ? { advertisedName: "" } : undefined,
  };
  assert.deepEqual(
    validateCompositeTool({ ...def, steps: [{ id: "a", tool: "backend.hidden_tool" }] }, hidden),
    [],
  );
});

Deno.test("a self reference and a three-step cycle are both reported", () => {
  const problems = validateCompositeTool({
    name: "t",
    description: "d",
    steps: [
      { id: "a", tool: "echo", dependsOn: ["b"] },
      { id: "b", tool: "echo", arguments: { text: "{{.steps.c.output.text}}" } },
      { id: "c", tool: "echo", dependsOn: ["a"] },
      { id: "s", tool: "echo", arguments: { text: "{{.steps.s.status}}" } },
    ],
  }, catalogue);
  assert.ok(
    problems.some((p) => /dependency cycle: a -> b -> c -> a/.test(p.message)),
    JSON.stringify(problems),
  );
  assert.ok(find(problems, "steps[3].arguments.text", /cannot read its own result/));
});
