/**
 * Spans of composite tool runs: one `workflow <name>` span (a child of the client request's
 * span) and one `step <id>` span per step, opened and closed by the engine's step events
 * (`RunOptions.onProgress`). A step's tool calls run inside its span, so their backend spans are
 * its children. Attributes: the tool name, workflow id, step id, attempt and outcome; never
 * arguments or results.
 * @module
 */
import type { StepProgressEvent } from "../../core/composite/mod.ts";
import {
  type Context,
  context,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
} from "../../core/telemetry.ts";
import { telemetry } from "./instrument.ts";

export class WorkflowSpans {
  readonly #tracer: Tracer;
  readonly #ctx: Context;
  readonly #span: Span;
  readonly #steps = new Map<string, { span: Span; ctx: Context }>();

  constructor(tracer: Tracer, toolName: string) {
    this.#tracer = tracer;
    const parent = context.active();
    this.#span = tracer.startSpan(`workflow ${toolName}`, {
      attributes: { "gen_ai.tool.name": toolName, "vmcp.workflow.name": toolName },
    }, parent);
    this.#ctx = trace.setSpan(parent, this.#span);
  }

  /** Runs the workflow inside its span. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(this.#ctx, fn);
  }

  /** Opens, annotates or closes a step's span for one engine event. */
  onStep(e: StepProgressEvent): void {
    const open = this.#steps.get(e.stepId);
    switch (e.status) {
      case "started": {
        if (open) return;
        const span = this.#tracer.startSpan(`step ${e.stepId}`, {
          attributes: { "vmcp.workflow.step.id": e.stepId },
        }, this.#ctx);
        this.#steps.set(e.stepId, { span, ctx: trace.setSpan(this.#ctx, span) });
        return;
      }
      case "retrying":
        open?.span.addEvent("retry", e.attempt !== undefined ? { attempt: e.attempt } : {});
        return;
      case "completed":
      case "failed":
      case "skipped": {
        const span = open?.span ?? this.#tracer.startSpan(`step ${e.stepId}`, {
          attributes: { "vmcp.workflow.step.id": e.stepId },
        }, this.#ctx);
        span.setAttribute("vmcp.workflow.step.status", e.status);
        if (e.status === "failed") {
          span.setAttribute("error.type", "step_failed");
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
        this.#steps.delete(e.stepId);
        return;
      }
    }
  }

  /** Runs a step's tool call inside the step's span (the workflow's when the step is unknown). */
  inStep<T>(stepId: string, fn: () => Promise<T>): Promise<T> {
    return context.with(this.#steps.get(stepId)?.ctx ?? this.#ctx, fn);
  }

  /** Ends the workflow span (and any step span left open) with the run's status. */
  end(status: string, workflowId: string): void {
    for (const { span } of this.#steps.values()) {
      span.setAttribute("vmcp.workflow.step.status", status);
      span.end();
    }
    this.#steps.clear();
    this.#span.setAttributes({ "vmcp.workflow.status": status, "vmcp.workflow.id": workflowId });
    if (status !== "completed") {
      this.#span.setAttribute("error.type", `workflow_${status}`);
      this.#span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.#span.end();
  }
}

/** The spans of one composite tool call, or undefined when tracing is off or not sampled. */
export function workflowSpans(toolName: string): WorkflowSpans | undefined {
  const tracer = telemetry?.tracer;
  // Only inside a sampled request: an unsampled trace records nothing.
  if (!tracer || !trace.getActiveSpan()?.isRecording()) return undefined;
  return new WorkflowSpans(tracer, toolName);
}
