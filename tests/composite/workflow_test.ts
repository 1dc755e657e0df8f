import assert from "node:assert/strict";
import { meetStep, meetTool, setup, textOf } from "./helpers.ts";

Deno.test("a sequential composite tool chains backend calls through the proxy and is listed with its schemas", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }, { name: "beta" }],
    compositeTools: [{
      name: "greet_and_sum",
      description: "Echoes a greeting, then adds two numbers",
      parameters: {
        type: "object",
        properties: { who: { type: "string" }, n: { type: "integer", default: 40 } },
        required: ["who"],
      },
      steps: [
        { id: "hello", tool: "alpha_echo", arguments: { message: "hello {{.params.who}}" } },
        // Templates render strings; the step coerces them to the backend's number types.
        {
          id: "sum",
          tool: "beta.add",
          arguments: { a: "{{.params.n}}", b: "2" },
          dependsOn: ["hello"],
        },
      ],
      output: {
        properties: {
          greeting: { type: "string", value: "{{.steps.hello.output.message}}" },
          total: { type: "number", value: "{{.steps.sum.output.sum}}" },
        },
        required: ["greeting", "total"],
      },
    }],
  });
  try {
    const { tools } = await s.client.listTools();
    const tool = tools.find((t) => t.name === "greet_and_sum");
    assert.ok(tool, JSON.stringify(tools.map((t) => t.name)));
    assert.equal(tool.description, "Echoes a greeting, then adds two numbers");
    assert.deepEqual(tool.inputSchema.required, ["who"]);
    assert.equal(tool.outputSchema?.type, "object");
    assert.ok(tool.outputSchema?.properties?.total);
    // Test backend tools declare no hints: unknown counts as unsafe.
    assert.deepEqual(
      { ...tool.annotations },
      { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    );

    const r = await s.client.callTool({ name: "greet_and_sum", arguments: { who: "Ada" } });
    assert.equal(r.isError, undefined, textOf(r));
    assert.deepEqual(r.structuredContent, { greeting: "hello Ada", total: 42 });
    assert.deepEqual(s.backends.alpha!.state.calls.map((c) => c.args), [{ message: "hello Ada" }]);
    assert.deepEqual(s.backends.beta!.state.calls.map((c) => c.args), [{ a: 40, b: 2 }]);
  } finally {
    await s.close();
  }
});

Deno.test("independent steps of a composite tool run in parallel", async () => {
  // Each of a, b, c returns only once the other two have started: they can only finish if all
  // three were in flight at once (run one after the other, a waits forever: workflow timeout).
  const meet = meetTool();
  const s = await setup({
    backends: [{ name: "alpha", extraTools: [meet] }],
    compositeTools: [{
      name: "fan_out",
      description: "Three calls that wait for each other, then one more",
      timeout: "30s",
      steps: [
        meetStep("a", ["b", "c"]),
        meetStep("b", ["a", "c"]),
        meetStep("c", ["a", "b"]),
        {
          id: "done",
          tool: "alpha_echo",
          arguments: { message: "done" },
          dependsOn: ["a", "b", "c"],
        },
      ],
    }],
  });
  try {
    const r = await s.client.callTool({ name: "fan_out", arguments: {} });
    assert.equal(r.isError, undefined, textOf(r));
    // Without output, the last step's result comes back as is.
    assert.deepEqual(r.structuredContent, { message: "done", backend: "alpha" });
    assert.deepEqual(meet.started().sort(), ["a", "b", "c"]);
  } finally {
    await s.close();
  }
});

Deno.test("per-edge scheduling starts a step when its own dependencies end, not when its level does", async () => {
  // a → b ───────────┐
  // a → c → c2 ──────┴→ d
  // Levels {a} {b,c} {c2} {d}. b returns only once c2 has started: per edge, c2 starts when c
  // ends, so b can finish; a level-barrier schedule would start c2 only after b ended, and b
  // would wait forever (the workflow timeout fails the call).
  const meet = meetTool();
  const s = await setup({
    backends: [{ name: "alpha", extraTools: [meet] }],
    compositeTools: [{
      name: "diamond",
      description: "An uneven diamond",
      timeout: "30s",
      steps: [
        meetStep("a"),
        meetStep("b", ["c2"], ["a"]),
        meetStep("c", [], ["a"]),
        meetStep("c2", [], ["c"]),
        meetStep("d", [], ["b", "c2"]),
      ],
    }],
  });
  try {
    const r = await s.client.callTool({ name: "diamond", arguments: {} });
    assert.equal(r.isError, undefined, textOf(r));
    const order = meet.started();
    assert.equal(order[0], "a");
    assert.equal(order.at(-1), "d");
    assert.ok(order.indexOf("c") < order.indexOf("c2"), order.join(" "));
  } finally {
    await s.close();
  }
});

Deno.test("a step can call a tool hidden from clients by filter and excludeAll", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }, { name: "beta" }],
    aggregation: {
      tools: [{ workload: "alpha", filter: ["echo"] }, { workload: "beta", excludeAll: true }],
    },
    compositeTools: [{
      name: "hidden_sum",
      description: "Uses hidden tools",
      steps: [
        { id: "sum", tool: "alpha_add", arguments: { a: 1, b: 2 } },
        { id: "count", tool: "beta.counter", dependsOn: ["sum"] },
      ],
      output: {
        properties: {
          sum: { type: "number", value: "{{.steps.sum.output.sum}}" },
          count: { type: "integer", value: "{{.steps.count.output.count}}" },
        },
      },
    }],
  });
  try {
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes("alpha_add") && !names.includes("beta_counter"), names.join(","));
    assert.ok(names.includes("hidden_sum"), names.join(","));
    await assert.rejects(s.client.callTool({ name: "alpha_add", arguments: { a: 1, b: 2 } }));
    const r = await s.client.callTool({ name: "hidden_sum", arguments: {} });
    assert.deepEqual(r.structuredContent, { sum: 3, count: 1 });
  } finally {
    await s.close();
  }
});

Deno.test("a retried step succeeds on its third attempt", async () => {
  let attempts = 0;
  const s = await setup({
    backends: [{
      name: "alpha",
      extraTools: [{
        name: "flaky",
        description: "Fails twice, then succeeds",
        handler: () => {
          attempts++;
          return attempts < 3
            ? { isError: true, content: [{ type: "text", text: `attempt ${attempts} failed` }] }
            : { content: [{ type: "text", text: `ok on attempt ${attempts}` }] };
        },
      }],
    }],
    compositeTools: [{
      name: "stubborn",
      description: "Retries a flaky tool",
      steps: [{
        id: "try",
        tool: "alpha_flaky",
        onError: { action: "retry", retryCount: 3, retryDelay: "20ms" },
      }],
    }],
  });
  try {
    const r = await s.client.callTool({ name: "stubborn", arguments: {} });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(textOf(r), "ok on attempt 3");
    assert.equal(attempts, 3);
  } finally {
    await s.close();
  }
});

Deno.test("a failing step under continue hands its defaultResults to later steps", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [{
      name: "fallback",
      description: "Falls back when a step fails",
      steps: [
        {
          id: "lookup",
          tool: "alpha_fail",
          arguments: { message: "lookup is down" },
          onError: { action: "continue" },
          defaultResults: { text: "cached value" },
        },
        { id: "say", tool: "alpha_echo", arguments: { message: "{{.steps.lookup.output.text}}" } },
      ],
      output: {
        properties: {
          said: { type: "string", value: "{{.steps.say.output.message}}" },
          lookupStatus: { type: "string", value: "{{.steps.lookup.status}}" },
          lookupError: { type: "string", value: "{{.steps.lookup.error}}" },
        },
      },
    }],
  });
  try {
    const r = await s.client.callTool({ name: "fallback", arguments: {} });
    assert.deepEqual(r.structuredContent, {
      said: "cached value",
      lookupStatus: "failed",
      lookupError: "lookup is down",
    });
  } finally {
    await s.close();
  }
});

Deno.test("a step whose condition is false is skipped and never reaches the backend", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [{
      name: "maybe_count",
      description: "Counts only in full mode",
      parameters: { type: "object", properties: { mode: { type: "string" } } },
      steps: [
        {
          id: "count",
          tool: "alpha_counter",
          condition: '{{eq .params.mode "full"}}',
          defaultResults: { count: 0 },
        },
        {
          id: "report",
          tool: "alpha_echo",
          arguments: { message: "count={{.steps.count.output.count}} ({{.steps.count.status}})" },
        },
      ],
    }],
  });
  try {
    const quick = await s.client.callTool({ name: "maybe_count", arguments: { mode: "quick" } });
    assert.equal(textOf(quick), "count=0 (skipped)");
    assert.equal(s.backends.alpha!.state.count, 0);
    const full = await s.client.callTool({ name: "maybe_count", arguments: { mode: "full" } });
    assert.equal(textOf(full), "count=1 (completed)");
  } finally {
    await s.close();
  }
});

Deno.test("forEach runs every item, records the failed ones and keeps going under continue", async () => {
  const s = await setup({
    backends: [{
      name: "alpha",
      extraTools: [{
        name: "check",
        inputSchema: { type: "object", properties: { n: { type: "integer" } } },
        handler: (args) =>
          Number(args.n) % 2 === 0
            ? { content: [{ type: "text", text: `${args.n} ok` }] }
            : { isError: true, content: [{ type: "text", text: `${args.n} is odd` }] },
      }],
    }],
    compositeTools: [{
      name: "check_all",
      description: "Checks every number",
      parameters: {
        type: "object",
        properties: { numbers: { type: "array", items: { type: "integer" } } },
      },
      steps: [{
        id: "each",
        type: "forEach",
        collection: "{{json .params.numbers}}",
        itemVar: "num",
        maxParallel: 2,
        step: {
          tool: "alpha_check",
          arguments: { n: "{{.forEach.num}}" },
          onError: { action: "continue" },
        },
      }],
      output: {
        properties: {
          count: { type: "integer", value: "{{.steps.each.output.count}}" },
          completed: { type: "integer", value: "{{.steps.each.output.completed}}" },
          failed: { type: "integer", value: "{{.steps.each.output.failed}}" },
          iterations: { type: "array", value: "{{json .steps.each.output.iterations}}" },
        },
      },
    }],
  });
  try {
    const r = await s.client.callTool({
      name: "check_all",
      arguments: { numbers: [2, 3, 4, 5, 6] },
    });
    assert.equal(r.isError, undefined, textOf(r));
    const out = r.structuredContent as {
      count: number;
      completed: number;
      failed: number;
      iterations: { index: number; status: string; error?: string }[];
    };
    assert.deepEqual([out.count, out.completed, out.failed], [5, 3, 2]);
    assert.deepEqual(
      out.iterations.filter((i) => i.status === "failed").map((i) => [i.index, i.error]),
      [[1, "3 is odd"], [3, "5 is odd"]],
    );
    assert.equal(s.backends.alpha!.state.calls.length, 5);
  } finally {
    await s.close();
  }
});
