import assert from "node:assert/strict";
import type { CallToolResult } from "../sdk.ts";
import { ManualClock } from "../clock.ts";
import { compileCompositeTool, type CompiledWorkflow, type ToolCatalogue } from "./compile.ts";
import { executeWorkflow, runWorkflow, type StepProgressEvent } from "./engine.ts";
import type { CallToolOptions, WorkflowDeps } from "./step_exec.ts";

const catalogue: ToolCatalogue = {
  resolve: (ref) => ({
    advertisedName: ref,
    inputSchema: {
      type: "object",
      properties: {
        n: { type: "integer" },
        ratio: { type: "number" },
        flag: { type: "boolean" },
        label: { type: "string" },
        obj: { type: "object", properties: { k: { type: "integer" } } },
      },
    },
  }),
};

function compile(def: Record<string, unknown>): CompiledWorkflow {
  const r = compileCompositeTool({ name: "wf", description: "test workflow", ...def }, catalogue);
  if (!r.ok) throw new Error(JSON.stringify(r.problems, null, 1));
  return r.workflow;
}

const text = (t: string): CallToolResult => ({ content: [{ type: "text", text: t }] });
const delay = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
/** Lets pending promise chains and ManualClock waiters run. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

type Handler = (
  args: Record<string, unknown>,
  o: CallToolOptions,
) => Promise<CallToolResult> | CallToolResult;
function toolDeps(handlers: Record<string, Handler>, extra: Partial<WorkflowDeps> = {}) {
  const calls: { ref: string; args: Record<string, unknown>; at: number }[] = [];
  const deps: WorkflowDeps = {
    callTool: async (ref, args, o) => {
      calls.push({ ref, args, at: performance.now() });
      const h = handlers[ref];
      if (!h) throw new Error(`no handler for ${ref}`);
      return await h(args, o);
    },
    ...extra,
  };
  return { deps, calls };
}

Deno.test("steps run in dependency order and outputs flow through templates", async () => {
  const wf = compile({
    parameters: { type: "object", properties: { who: { type: "string", default: "Ada" } } },
    steps: [
      { id: "a", tool: "greet", arguments: { label: "{{.params.who}}" } },
      { id: "b", tool: "shout", arguments: { label: "{{.steps.a.output.greeting}}!" } },
    ],
    output: {
      properties: {
        final: { type: "string", value: "{{.steps.b.output.text}}" },
        status: { type: "string", value: "{{.steps.a.status}}" },
      },
      required: ["final"],
    },
  });
  const { deps, calls } = toolDeps({
    greet: (a) => text(JSON.stringify({ greeting: `hello ${a.label}` })),
    shout: (a) => text(String(a.label).toUpperCase()),
  });
  const result = await runWorkflow(wf, {}, deps);
  assert.equal(result.isError, undefined);
  assert.deepEqual(calls.map((c) => c.args), [{ label: "Ada" }, { label: "hello Ada!" }]);
  assert.deepEqual(result.structuredContent, { final: "HELLO ADA!", status: "completed" });
  assert.deepEqual(result.content, [{
    type: "text",
    text: '{"final":"HELLO ADA!","status":"completed"}',
  }]);
  assert.deepEqual(wf.outputSchema, {
    type: "object",
    properties: { final: { type: "string" }, status: { type: "string" } },
    required: ["final"],
  });
});

Deno.test("independent steps run in parallel", async () => {
  const wf = compile({
    steps: [{ id: "a", tool: "slow" }, { id: "b", tool: "slow" }, { id: "c", tool: "slow" }],
  });
  let inFlight = 0, peak = 0;
  const { deps } = toolDeps({
    slow: async () => {
      peak = Math.max(peak, ++inFlight);
      await delay(20);
      inFlight--;
      return text("ok");
    },
  });
  const run = await executeWorkflow(wf, {}, deps);
  assert.equal(run.status, "completed");
  assert.equal(peak, 3);
  const capped = await executeWorkflow(wf, {}, deps, { maxConcurrency: 2 });
  assert.equal(capped.status, "completed");
  assert.equal(peak, 3);
  peak = 0;
  await executeWorkflow(wf, {}, deps, { maxConcurrency: 1 });
  assert.equal(peak, 1);
});

Deno.test("scheduling is per edge: D after fast B starts before slow C finishes", async () => {
  // A -> B (fast), A -> C (slow), B -> D. Level scheduling would hold D until C ends.
  const wf = compile({
    steps: [
      { id: "A", tool: "t" },
      { id: "B", tool: "fast", dependsOn: ["A"] },
      { id: "C", tool: "slow", dependsOn: ["A"] },
      { id: "D", tool: "t", dependsOn: ["B"] },
    ],
  });
  const events: { id: string; status: string; at: number }[] = [];
  const { deps } = toolDeps({
    t: () => text("ok"),
    fast: async () => (await delay(5), text("ok")),
    slow: async () => (await delay(120), text("ok")),
  });
  const run = await executeWorkflow(wf, {}, deps, {
    onProgress: (e) => events.push({ id: e.stepId, status: e.status, at: performance.now() }),
  });
  assert.equal(run.status, "completed");
  const at = (id: string, status: string) =>
    events.find((e) => e.id === id && e.status === status)!.at;
  assert.ok(at("D", "started") < at("C", "completed"), "D must start before C completes");
  assert.ok(at("D", "completed") < at("C", "completed"));
  assert.ok(run.steps.D!.startedAt! < run.steps.C!.finishedAt!);
});

Deno.test("retry succeeds on the third attempt with exponential backoff delays", async () => {
  const clock = new ManualClock();
  const wf = compile({
    steps: [{
      id: "flaky",
      tool: "flaky",
      onError: { action: "retry", retryCount: 3, retryDelay: "1s" },
    }],
  });
  const times: number[] = [];
  const { deps } = toolDeps({
    flaky: () => {
      times.push(clock.now());
      if (times.length < 3) {
        return { isError: true, content: [{ type: "text", text: `boom ${times.length}` }] };
      }
      return text("finally");
    },
  }, { clock });
  const events: StepProgressEvent[] = [];
  const p = executeWorkflow(wf, {}, deps, { onProgress: (e) => events.push(e) });
  for (let i = 0; i < 5; i++) {
    await flush();
    clock.advance(1000);
  }
  const run = await p;
  assert.equal(run.status, "completed");
  assert.deepEqual(times, [0, 1000, 3000]);
  assert.equal(run.steps.flaky!.attempts, 3);
  assert.deepEqual(
    events.filter((e) => e.status === "retrying").map((e) => [e.attempt, e.error]),
    [[2, "boom 1"], [3, "boom 2"]],
  );
  assert.deepEqual(run.result.content, [{ type: "text", text: "finally" }]);
});

Deno.test("retries that run out fail the workflow naming the step and attempts", async () => {
  const clock = new ManualClock();
  const wf = compile({
    steps: [{
      id: "x",
      tool: "bad",
      onError: { action: "retry", retryCount: 1, retryDelay: "10ms" },
    }],
  });
  const { deps } = toolDeps({ bad: () => Promise.reject(new Error("connection refused")) }, {
    clock,
  });
  const p = runWorkflow(wf, {}, deps);
  await flush();
  clock.advance(10);
  const result = await p;
  assert.equal(result.isError, true);
  assert.deepEqual(result.content, [{
    type: "text",
    text: 'Workflow execution failed: step "x": failed after 2 attempts: connection refused',
  }]);
});

Deno.test("continue uses defaultResults and later steps still run", async () => {
  const wf = compile({
    steps: [
      {
        id: "lookup",
        tool: "bad",
        onError: { action: "continue" },
        defaultResults: { owner: "nobody" },
      },
      {
        id: "notify",
        tool: "echo",
        arguments: {
          label:
            "owner={{.steps.lookup.output.owner}} ({{.steps.lookup.status}}: {{.steps.lookup.error}})",
        },
      },
    ],
  });
  const { deps, calls } = toolDeps({
    bad: () => ({ isError: true, content: [{ type: "text", text: "not found" }] }),
    echo: (a) => text(String(a.label)),
  });
  const run = await executeWorkflow(wf, {}, deps);
  assert.equal(run.status, "completed");
  assert.equal(run.steps.lookup!.status, "failed");
  assert.equal(calls[1]!.args.label, "owner=nobody (failed: not found)");
});

Deno.test("a false condition skips the step and its defaultResults are used", async () => {
  const wf = compile({
    parameters: { type: "object", properties: { deploy: { type: "boolean" } } },
    steps: [
      {
        id: "deploy",
        tool: "echo",
        condition: "{{.params.deploy}}",
        defaultResults: { url: "none" },
      },
      {
        id: "report",
        tool: "echo",
        arguments: { label: "{{.steps.deploy.status}} {{.steps.deploy.output.url}}" },
      },
    ],
  });
  const { deps, calls } = toolDeps({ echo: (a) => text(String(a.label)) });
  const run = await executeWorkflow(wf, { deploy: false }, deps);
  assert.equal(run.status, "completed");
  assert.deepEqual(calls.map((c) => c.args.label), ["skipped none"]);
  const run2 = await executeWorkflow(
    wf,
    { deploy: true },
    toolDeps({ echo: () => text('{"url":"u"}') }).deps,
  );
  assert.equal(run2.steps.deploy!.status, "completed");
});

Deno.test("a condition that renders neither true nor false fails the step", async () => {
  const wf = compile({ steps: [{ id: "a", tool: "echo", condition: "{{.params.x}}" }] });
  const result = await runWorkflow(wf, { x: "maybe" }, toolDeps({ echo: () => text("") }).deps);
  assert.equal(result.isError, true);
  assert.match(
    (result.content[0] as { text: string }).text,
    /step "a": condition must render true or false, got "maybe"/,
  );
});

Deno.test("forEach runs the inner tool per item, respects maxParallel and records partial failures", async () => {
  const wf = compile({
    steps: [
      { id: "list", tool: "list" },
      {
        id: "each",
        type: "forEach",
        collection: "{{json .steps.list.output.items}}",
        itemVar: "repo",
        maxParallel: 2,
        step: {
          tool: "scan",
          arguments: { label: "{{.forEach.repo.name}}", n: "{{.forEach.index}}" },
          onError: { action: "continue" },
        },
      },
    ],
    output: {
      properties: {
        completed: { type: "integer", value: "{{.steps.each.output.completed}}" },
        failed: { type: "integer", value: "{{.steps.each.output.failed}}" },
        errors: { type: "array", value: "{{json .steps.each.output.iterations}}" },
      },
    },
  });
  let inFlight = 0, peak = 0;
  const { deps, calls } = toolDeps({
    list: () => text(JSON.stringify({ items: [1, 2, 3, 4, 5].map((i) => ({ name: `r${i}` })) })),
    scan: async (a) => {
      peak = Math.max(peak, ++inFlight);
      await delay(5);
      inFlight--;
      if (a.label === "r2" || a.label === "r4") {
        return { isError: true, content: [{ type: "text", text: `cannot scan ${a.label}` }] };
      }
      return text(`scanned ${a.label}`);
    },
  });
  const result = await runWorkflow(wf, {}, deps);
  assert.equal(result.isError, undefined, JSON.stringify(result));
  assert.equal(peak, 2);
  assert.deepEqual(calls.filter((c) => c.ref === "scan").map((c) => c.args.n).sort(), [
    0,
    1,
    2,
    3,
    4,
  ]);
  const out = result.structuredContent as {
    completed: number;
    failed: number;
    errors: { status: string; error?: string }[];
  };
  assert.equal(out.completed, 3);
  assert.equal(out.failed, 2);
  assert.equal(out.errors[1]!.error, "cannot scan r2");
});

Deno.test("forEach aborts at the first failed item under the default onError", async () => {
  const wf = compile({
    steps: [{
      id: "each",
      type: "forEach",
      collection: "[1,2,3]",
      maxParallel: 1,
      step: { tool: "t" },
    }],
  });
  const { deps, calls } = toolDeps({
    t: () => ({ isError: true, content: [{ type: "text", text: "nope" }] }),
  });
  const result = await runWorkflow(wf, {}, deps);
  assert.equal(result.isError, true);
  assert.equal(calls.length, 1);
  assert.match((result.content[0] as { text: string }).text, /step "each": iteration 0: nope/);
});

Deno.test("elicitation accept exposes content; decline aborts by default", async () => {
  const wf = compile({
    steps: [
      {
        id: "ask",
        type: "elicitation",
        message: "Deploy {{.params.app}}?",
        schema: { type: "object", properties: { ok: { type: "boolean" } } },
      },
      {
        id: "go",
        tool: "echo",
        condition: '{{eq .steps.ask.output.action "accept"}}',
        arguments: { label: "{{.steps.ask.output.content.ok}}" },
        defaultResults: {},
      },
    ],
  });
  const asked: string[] = [];
  const accept = toolDeps({ echo: (a) => text(String(a.label)) }, {
    elicit: (m) => (asked.push(m), Promise.resolve({ action: "accept", content: { ok: true } })),
  });
  const r1 = await runWorkflow(wf, { app: "web" }, accept.deps);
  assert.deepEqual(asked, ["Deploy web?"]);
  assert.deepEqual(r1.content, [{ type: "text", text: "true" }]);
  const decline = toolDeps({ echo: () => text("x") }, {
    elicit: () => Promise.resolve({ action: "decline" }),
  });
  const r2 = await runWorkflow(wf, { app: "web" }, decline.deps);
  assert.equal(r2.isError, true);
  assert.match(
    (r2.content[0] as { text: string }).text,
    /step "ask": user declined the elicitation/,
  );
  assert.equal(decline.calls.length, 0);
});

Deno.test("elicitation decline with continue carries on with the next steps", async () => {
  const wf = compile({
    steps: [
      { id: "ask", type: "elicitation", message: "ok?", onDecline: { action: "continue" } },
      {
        id: "next",
        tool: "echo",
        dependsOn: ["ask"],
        arguments: { label: "{{.steps.ask.output.action}}" },
      },
    ],
  });
  const d = toolDeps({ echo: (a) => text(String(a.label)) }, {
    elicit: () => Promise.resolve({ action: "decline" }),
  });
  const r = await runWorkflow(wf, {}, d.deps);
  assert.deepEqual(r.content, [{ type: "text", text: "decline" }]);
});

Deno.test("skip_remaining really skips every step that has not started", async () => {
  const wf = compile({
    steps: [
      {
        id: "ask",
        type: "elicitation",
        message: "continue?",
        onCancel: { action: "skip_remaining" },
      },
      { id: "one", tool: "echo", dependsOn: ["ask"] },
      { id: "two", tool: "echo", dependsOn: ["one"] },
    ],
    output: {
      properties: {
        asked: { type: "string", value: "{{.steps.ask.output.action}}" },
        two: { type: "string", value: "{{.steps.two.status}}" },
      },
    },
  });
  const d = toolDeps({ echo: () => text("ran") }, {
    elicit: () => Promise.resolve({ action: "cancel" }),
  });
  const run = await executeWorkflow(wf, {}, d.deps);
  assert.equal(run.status, "completed");
  assert.equal(d.calls.length, 0);
  assert.equal(run.steps.one!.status, "skipped");
  assert.equal(run.steps.two!.status, "skipped");
  assert.deepEqual(run.result.structuredContent, { asked: "cancel", two: "skipped" });
});

Deno.test("the workflow timeout returns the timeout error and aborts running steps", async () => {
  const clock = new ManualClock();
  const wf = compile({ timeout: "1s", steps: [{ id: "hang", tool: "hang" }] });
  let aborted = false;
  const { deps } = toolDeps({
    hang: (_a, o) =>
      new Promise((_, reject) =>
        o.signal.addEventListener("abort", () => (aborted = true, reject(o.signal.reason)))
      ),
  }, { clock });
  const p = executeWorkflow(wf, {}, deps);
  await flush();
  clock.advance(1000);
  const run = await p;
  assert.equal(run.status, "timeout");
  assert.deepEqual(run.result, {
    isError: true,
    content: [{ type: "text", text: "Workflow execution timeout exceeded" }],
  });
  assert.ok(aborted);
});

Deno.test("a step timeout fails the step even when the tool ignores its signal", async () => {
  const clock = new ManualClock();
  const wf = compile({ steps: [{ id: "slow", tool: "hang", timeout: "100ms" }] });
  const { deps } = toolDeps({ hang: () => new Promise<CallToolResult>(() => {}) }, { clock });
  const p = runWorkflow(wf, {}, deps);
  await flush();
  clock.advance(100);
  const result = await p;
  assert.deepEqual(result.content, [{
    type: "text",
    text: 'Workflow execution failed: step "slow": step timeout of 100ms exceeded',
  }]);
});

Deno.test("cancelling via the signal stops running steps and starts no more", async () => {
  const wf = compile({
    steps: [{ id: "a", tool: "hang" }, { id: "b", tool: "echo", dependsOn: ["a"] }],
  });
  const ctl = new AbortController();
  let sawAbort = false;
  const { deps, calls } = toolDeps({
    hang: (_a, o) =>
      new Promise((_, reject) =>
        o.signal.addEventListener("abort", () => (sawAbort = true, reject(o.signal.reason)))
      ),
    echo: () => text("x"),
  });
  const p = executeWorkflow(wf, {}, deps, { signal: ctl.signal });
  await flush();
  ctl.abort(new Error("client cancelled"));
  const run = await p;
  assert.equal(run.status, "cancelled");
  assert.equal(run.result.isError, true);
  assert.ok(sawAbort);
  assert.deepEqual(calls.map((c) => c.ref), ["hang"]);
});

Deno.test("arguments are coerced to the tool's input schema types", async () => {
  const wf = compile({
    parameters: { type: "object", properties: { count: { type: "string" } } },
    steps: [{
      id: "a",
      tool: "echo",
      arguments: {
        n: "{{.params.count}}",
        ratio: '{{printf "%s.5" .params.count}}',
        flag: '{{eq .params.count "7"}}',
        label: "{{len .params.count}}",
        obj: '{"k": "{{.params.count}}"}',
        extra: "{{.params.missing}}",
        literal: 5,
      },
    }],
  });
  const { deps, calls } = toolDeps({ echo: () => text("ok") });
  await runWorkflow(wf, { count: "7" }, deps);
  assert.deepEqual(calls[0]!.args, {
    n: 7,
    ratio: 7.5,
    flag: true,
    label: "1",
    obj: { k: 7 },
    literal: 5,
  });
});

Deno.test("arguments are validated against parameters with defaults applied", async () => {
  const wf = compile({
    parameters: {
      type: "object",
      properties: { n: { type: "integer", default: 2 }, name: { type: "string" } },
      required: ["name"],
    },
    steps: [{
      id: "a",
      tool: "echo",
      arguments: { n: "{{.params.n}}", label: "{{.params.name}}" },
    }],
  });
  const { deps, calls } = toolDeps({ echo: () => text("ok") });
  const bad = await runWorkflow(wf, { n: "x" }, deps);
  assert.equal(bad.isError, true);
  assert.match(
    (bad.content[0] as { text: string }).text,
    /Invalid arguments: params\.name: is required; params\.n: expected integer, got "x"/,
  );
  await runWorkflow(wf, { name: "z" }, deps);
  assert.deepEqual(calls[0]!.args, { n: 2, label: "z" });
});

Deno.test("output properties are typed, defaulted and nested", async () => {
  const wf = compile({
    steps: [{ id: "a", tool: "data" }],
    output: {
      properties: {
        count: { type: "integer", value: "{{.steps.a.output.count}}" },
        ratio: { type: "number", value: "{{.steps.a.output.ratio}}" },
        ok: { type: "boolean", value: "{{gt (len .steps.a.output.tags) 1}}" },
        tags: { type: "array", value: "{{json .steps.a.output.tags}}" },
        missing: { type: "string", value: "{{.steps.a.output.nope}}", default: "n/a" },
        bad: { type: "integer", value: "not a number", default: 0 },
        info: {
          type: "object",
          properties: { first: { type: "string", value: "{{index .steps.a.output.tags 0}}" } },
        },
      },
      required: ["count"],
    },
  });
  const { deps } = toolDeps({
    data: () => ({ content: [], structuredContent: { count: "3", ratio: 0.25, tags: ["x", "y"] } }),
  });
  const result = await runWorkflow(wf, {}, deps);
  assert.deepEqual(result.structuredContent, {
    count: 3,
    ratio: 0.25,
    ok: true,
    tags: ["x", "y"],
    missing: "n/a",
    bad: 0,
    info: { first: "x" },
  });
  assert.deepEqual((wf.outputSchema!.properties as Record<string, unknown>).info, {
    type: "object",
    properties: { first: { type: "string" } },
  });
});

Deno.test("a required output without value fails the workflow", async () => {
  const wf = compile({
    steps: [{ id: "a", tool: "data" }],
    output: {
      properties: { v: { type: "string", value: "{{.steps.a.output.nope}}" } },
      required: ["v"],
    },
  });
  const result = await runWorkflow(wf, {}, toolDeps({ data: () => text("{}") }).deps);
  assert.equal(result.isError, true);
  assert.match(
    (result.content[0] as { text: string }).text,
    /output construction failed: required output property "v" has no value/,
  );
});

Deno.test("workflow metadata and backend progress reach templates and listeners", async () => {
  const wf = compile({
    steps: [{ id: "a", tool: "p" }],
    output: {
      properties: {
        id: { type: "string", value: "{{.workflow.id}}" },
        n: { type: "integer", value: "{{.workflow.step_count}}" },
      },
    },
  });
  const events: StepProgressEvent[] = [];
  const { deps } = toolDeps({
    p: (_a, o) => (o.onProgress({ progress: 1, total: 2 }), text("ok")),
  });
  const result = await runWorkflow(wf, {}, deps, {
    workflowId: "wf-42",
    onProgress: (e) => events.push(e),
  });
  assert.deepEqual(result.structuredContent, { id: "wf-42", n: 1 });
  assert.deepEqual(events.map((e) => e.status), ["started", "progress", "completed"]);
  assert.deepEqual(events[1]!.progress, { progress: 1, total: 2 });
});
