import assert from "node:assert/strict";
import { describeProblem, failureReason } from "./describe.ts";

const spec = {
  steps: [
    { id: "fetch", tool: "web.get", timeout: "soon" },
    { id: "use", tool: "web.get", arguments: { q: "{{ .x " } },
  ],
};

Deno.test("A step problem names the step id, the field path and the value the message lacks", () => {
  assert.equal(
    describeProblem(spec, { path: "steps[0].timeout", message: "Expected a Go duration" }),
    'spec.steps[0] (step "fetch").timeout: Expected a Go duration (value "soon")',
  );
});

Deno.test("A value the message already quotes is not repeated, and non-step paths stay as they are", () => {
  assert.equal(
    describeProblem(spec, {
      path: "steps[1].arguments.q",
      message: 'template syntax error at 1:3: unclosed action in "{{ .x "',
    }),
    'spec.steps[1] (step "use").arguments.q: template syntax error at 1:3: unclosed action in "{{ .x "',
  );
  assert.equal(describeProblem(spec, { path: "name", message: "Required" }), "spec.name: Required");
});

Deno.test("The failure reason prefers a dependency cycle, then a template error, else ValidationFailed", () => {
  assert.equal(
    failureReason([{ path: "a", message: "x" }, {
      path: "b",
      message: "dependency cycle: a -> a",
    }]),
    "DependencyCycle",
  );
  assert.equal(failureReason([{ path: "a", message: "template syntax error" }]), "TemplateInvalid");
  assert.equal(failureReason([{ path: "a", message: "Required" }]), "ValidationFailed");
});
