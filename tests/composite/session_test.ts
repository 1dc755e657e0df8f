import assert from "node:assert/strict";
import { ElicitRequestSchema } from "../../core/sdk.ts";
import { PATIENCE_MS, setup, slowStep, textOf, waitFor } from "./helpers.ts";

const askWorkflow = (onDecline: "abort" | "continue") => ({
  name: `ask_${onDecline}`,
  description: "Asks the user for a name, then echoes it",
  steps: [
    {
      id: "ask",
      type: "elicitation" as const,
      message: "Who is {{.params.role}}?",
      schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
      onDecline: { action: onDecline },
    },
    {
      id: "say",
      tool: "alpha_echo",
      arguments: { message: "{{.steps.ask.output.action}}:{{.steps.ask.output.content.name}}" },
    },
  ],
  parameters: { type: "object", properties: { role: { type: "string", default: "in charge" } } },
});

Deno.test("an elicitation step asks the calling client and uses the accepted content", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [askWorkflow("abort")],
  });
  try {
    const c = await s.connect({ capabilities: { elicitation: {} } });
    const asked: unknown[] = [];
    c.client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params);
      return { action: "accept", content: { name: "Ada" } };
    });
    const r = await c.client.callTool({ name: "ask_abort", arguments: { role: "the admin" } });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(textOf(r), "accept:Ada");
    assert.equal(asked.length, 1);
    const params = asked[0] as { message: string; requestedSchema: { required?: string[] } };
    assert.equal(params.message, "Who is the admin?");
    assert.deepEqual(params.requestedSchema.required, ["name"]);
  } finally {
    await s.close();
  }
});

Deno.test("a declined elicitation aborts the workflow, or continues when onDecline says so", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [askWorkflow("abort"), askWorkflow("continue")],
  });
  try {
    const c = await s.connect({ capabilities: { elicitation: {} } });
    c.client.setRequestHandler(ElicitRequestSchema, () => ({ action: "decline" }));
    const aborted = await c.client.callTool({ name: "ask_abort", arguments: {} });
    assert.equal(aborted.isError, true);
    assert.match(textOf(aborted), /step "ask".*declined/);
    assert.equal(s.backends.alpha!.state.calls.length, 0, "no step ran after the decline");

    const continued = await c.client.callTool({ name: "ask_continue", arguments: {} });
    assert.equal(continued.isError, undefined, textOf(continued));
    // No content after a decline: Go text/template renders a missing key as "<no value>".
    assert.equal(textOf(continued), "decline:<no value>");
  } finally {
    await s.close();
  }
});

Deno.test("an elicitation step fails clearly when the client did not declare elicitation", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [askWorkflow("abort")],
  });
  try {
    const r = await s.client.callTool({ name: "ask_abort", arguments: {} });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /step "ask".*did not declare the elicitation capability/);
  } finally {
    await s.close();
  }
});

Deno.test("the workflow timeout ends the call and cancels the running backend step", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [{
      name: "too_slow",
      description: "Takes longer than its timeout",
      // Long enough for the first step to reach the backend on a busy machine; the step itself
      // would take 120 s, so an answer within 60 s can only come from the workflow timeout.
      timeout: "5s",
      steps: [slowStep("wait", 120_000), slowStep("after", 10, ["wait"])],
    }],
  });
  try {
    const started = performance.now();
    const r = await s.client.callTool({ name: "too_slow", arguments: {} }, undefined, {
      timeout: 150_000,
    });
    const ms = performance.now() - started;
    assert.equal(r.isError, true);
    assert.match(textOf(r), /Workflow execution timeout exceeded/);
    assert.ok(ms < 60_000, `returned after ${ms.toFixed(0)} ms`);
    await waitFor(
      () => s.backends.alpha!.state.cancellations >= 1,
      PATIENCE_MS,
      "backend cancellation",
    );
    assert.equal(s.backends.alpha!.state.calls.length, 1, "the dependent step never started");
  } finally {
    await s.close();
  }
});

Deno.test("a client cancelling the call stops the workflow's running steps on the backend", async () => {
  const s = await setup({
    backends: [{ name: "alpha" }],
    compositeTools: [{
      name: "long_job",
      description: "Two long parallel steps, then one more",
      // 120 s steps: only the cancellation can end them within the test's patience.
      steps: [slowStep("a", 120_000), slowStep("b", 120_000), slowStep("after", 10, ["a", "b"])],
    }],
  });
  try {
    const state = s.backends.alpha!.state;
    const abort = new AbortController();
    const call = s.client.callTool({ name: "long_job", arguments: {} }, undefined, {
      signal: abort.signal,
    });
    await waitFor(() => state.calls.length === 2, PATIENCE_MS, "both steps running");
    abort.abort(new Error("user pressed stop"));
    await assert.rejects(call);
    await waitFor(() => state.cancellations === 2, PATIENCE_MS, "both backend calls cancelled");
    assert.equal(state.calls.length, 2, "no step started after the cancellation");
  } finally {
    await s.close();
  }
});

Deno.test("the client receives a progress notification for every step state change", async () => {
  let attempts = 0;
  const s = await setup({
    backends: [{
      name: "alpha",
      extraTools: [{
        name: "flaky",
        handler: () =>
          ++attempts < 2
            ? { isError: true, content: [{ type: "text", text: "not yet" }] }
            : { content: [{ type: "text", text: "ok" }] },
      }],
    }],
    compositeTools: [{
      name: "tracked",
      description: "Reports its steps",
      parameters: { type: "object", properties: { skip: { type: "boolean", default: true } } },
      steps: [
        slowStep("first", 50),
        {
          id: "retry",
          tool: "alpha_flaky",
          dependsOn: ["first"],
          onError: { action: "retry", retryCount: 2, retryDelay: "10ms" },
        },
        {
          id: "maybe",
          tool: "alpha_counter",
          condition: "{{not .params.skip}}",
          dependsOn: ["retry"],
        },
        slowStep("last", 50, ["maybe"]),
      ],
    }],
  });
  try {
    const events: { progress: number; message?: string }[] = [];
    const r = await s.client.callTool({ name: "tracked", arguments: {} }, undefined, {
      onprogress: (p) => events.push(p),
    });
    assert.equal(r.isError, undefined, textOf(r));
    const messages = events.map((e) => e.message);
    const expected = [
      "step first started",
      "step first completed",
      "step retry started",
      "step retry retrying",
      "step retry completed",
      "step maybe started",
      "step maybe skipped",
      "step last started",
    ];
    // The last step's "completed" races the result itself; everything before it must arrive.
    assert.deepEqual(messages.slice(0, expected.length), expected);
    assert.ok(messages.length <= expected.length + 1, JSON.stringify(messages));
    const values = events.map((e) => e.progress);
    assert.ok(values.every((v, i) => i === 0 || v > values[i - 1]!), `increasing: ${values}`);
  } finally {
    await s.close();
  }
});
