/**
 * The workflow engine: runs a `CompiledWorkflow` for one `tools/call`.
 *
 * Scheduling is per edge: a step starts as soon as all of its own dependencies have
 * finished (completed, skipped, or failed under `onError: continue`), with at most
 * `maxConcurrency` steps in flight; there are no level barriers.
 *
 * @example
 * ```ts
 * const compiled = compileCompositeTool(def, catalogue);
 * if (!compiled.ok) throw new Error(formatProblems(compiled.problems));
 * const result = await runWorkflow(compiled.workflow, args, {
 *   callTool: (ref, args, { signal }) => router.call(ref, args, signal),
 *   elicit: (message, schema, { signal }) => session.elicit(message, schema, signal),
 * }, { signal: request.signal });
 * ```
 * @module
 */

import type { CallToolResult } from "../sdk.ts";
import { systemClock } from "../clock.ts";
import type { CompiledStep, CompiledWorkflow } from "./compile.ts";
import { buildOutput } from "./output.ts";
import { applyDefaults, validateValue } from "./params.ts";
import { failureResult, successResult } from "./results.ts";
import {
  executeStep,
  type StepContext,
  type StepOutcome,
  timeoutSignal,
  type ToolProgress,
  type WorkflowDeps,
} from "./step_exec.ts";
import { evaluateTemplate } from "./template.ts";
import { formatDurationMs } from "./_format.ts";
import { truncateText } from "../truncate.ts";

export type StepStatus = "pending" | "running" | "completed" | "failed" | "skipped";

/** What the run knows about a step; templates read it as `.steps.<id>`. */
export interface StepRecord {
  id: string;
  status: StepStatus;
  /** `.steps.<id>.output`: structuredContent, content map, elicitation or forEach result, or defaultResults. */
  output?: unknown;
  /** `.steps.<id>.content`: the content-array map of a tool result. */
  content?: Record<string, unknown>;
  /** The backend result of a tool step. */
  raw?: CallToolResult;
  error?: string;
  attempts: number;
  startedAt?: number;
  finishedAt?: number;
}

export type ProgressStatus =
  | "started"
  | "retrying"
  | "progress"
  | "completed"
  | "failed"
  | "skipped";

/** One progress event; `completedSteps` counts finished steps (any outcome). */
export interface StepProgressEvent {
  stepId: string;
  status: ProgressStatus;
  attempt?: number;
  error?: string;
  iteration?: number;
  progress?: ToolProgress;
  completedSteps: number;
  totalSteps: number;
}

export interface RunOptions {
  /** Cancels the run (e.g. the client cancelled the request); running steps are aborted. */
  signal?: AbortSignal;
  onProgress?: (event: StepProgressEvent) => void;
  /** Steps in flight at once. @default 10 */
  maxConcurrency?: number;
  /** `.workflow.id`. @default a random UUID */
  workflowId?: string;
}

export interface WorkflowRun {
  workflowId: string;
  status: "completed" | "failed" | "timeout" | "cancelled";
  result: CallToolResult;
  steps: Record<string, StepRecord>;
  durationMs: number;
}

class WorkflowTimeout extends Error {}
class StepTimeout extends Error {}

export { type WorkflowDeps } from "./step_exec.ts";
export type { CallToolOptions, ElicitResult, ToolProgress } from "./step_exec.ts";

/** Runs a workflow and returns the MCP result (see `executeWorkflow` for details). */
export async function runWorkflow(
  wf: CompiledWorkflow,
  args: Record<string, unknown> | undefined,
  deps: WorkflowDeps,
  options: RunOptions = {},
): Promise<CallToolResult> {
  return (await executeWorkflow(wf, args, deps, options)).result;
}

/**
 * Runs a workflow: applies parameter defaults and validates the arguments, schedules the
 * steps, builds the output. Never throws for workflow failures: the result then has
 * `isError: true` and a text naming the failing step.
 * @throws {RangeError} when `maxConcurrency` is not a positive integer
 */
export function executeWorkflow(
  wf: CompiledWorkflow,
  args: Record<string, unknown> | undefined,
  deps: WorkflowDeps,
  options: RunOptions = {},
): Promise<WorkflowRun> {
  const max = options.maxConcurrency ?? 10;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`maxConcurrency must be a positive integer, got ${max}`);
  }
  const clock = deps.clock ?? systemClock;
  const workflowId = options.workflowId ?? crypto.randomUUID();
  const startedAt = clock.now();
  const records = new Map<string, StepRecord>(
    wf.steps.map((s) => [s.id, { id: s.id, status: "pending", attempts: 0 }]),
  );
  const snapshot = () => Object.fromEntries(records);
  let workflowStatus = "running";

  const params = applyDefaults(wf.parameters, args ?? {}) as Record<string, unknown>;
  const argProblems = wf.parameters ? validateValue(params, wf.parameters, "params") : [];
  if (argProblems.length > 0) {
    const text = "Invalid arguments: " +
      argProblems.map((p) => `${p.path}: ${p.message}`).join("; ");
    return Promise.resolve({
      workflowId,
      status: "failed",
      result: failureResult(text),
      steps: snapshot(),
      durationMs: 0,
    });
  }

  const data = (extra?: Record<string, unknown>): Record<string, unknown> => ({
    params,
    steps: Object.fromEntries(
      [...records.values()].map((
        r,
      ) => [r.id, { status: r.status, output: r.output, content: r.content, error: r.error }]),
    ),
    workflow: {
      id: workflowId,
      name: wf.name,
      start_time: new Date(startedAt).toISOString(),
      duration_ms: clock.now() - startedAt,
      step_count: wf.steps.length,
      status: workflowStatus,
    },
    vars: {},
    ...extra,
  });

  const runCtl = new AbortController();
  const outer = options.signal;
  const timeout = timeoutSignal(
    outer ?? new AbortController().signal,
    wf.timeoutMs,
    clock,
    () => new WorkflowTimeout(),
  );
  const onRunAbort = () => runCtl.abort(timeout.signal.reason);
  timeout.signal.addEventListener("abort", onRunAbort, { once: true });
  if (timeout.signal.aborted) onRunAbort();

  const dependents = new Map<string, CompiledStep[]>();
  const remaining = new Map<string, number>();
  for (const s of wf.steps) {
    remaining.set(s.id, s.deps.length);
    for (const d of s.deps) dependents.set(d, [...(dependents.get(d) ?? []), s]);
  }
  let ready = wf.steps.filter((s) => s.deps.length === 0);
  let running = 0;
  let finishedCount = 0;
  let stopStarting = false;

  return new Promise<WorkflowRun>((resolve) => {
    let done = false;
    const finish = (status: WorkflowRun["status"], result: CallToolResult) => {
      if (done) return;
      done = true;
      timeout.dispose();
      timeout.signal.removeEventListener("abort", onRunAbort);
      if (!runCtl.signal.aborted) runCtl.abort(new Error("workflow finished"));
      resolve({
        workflowId,
        status,
        result,
        steps: snapshot(),
        durationMs: clock.now() - startedAt,
      });
    };
    const emit = (
      stepId: string,
      e: Omit<StepProgressEvent, "stepId" | "completedSteps" | "totalSteps">,
    ) => {
      if (done || !options.onProgress) return;
      try {
        options.onProgress({
          stepId,
          ...e,
          completedSteps: finishedCount,
          totalSteps: wf.steps.length,
        });
      } catch { /* a faulty listener must not break the run */ }
    };
    runCtl.signal.addEventListener("abort", () => {
      const reason = runCtl.signal.reason;
      if (reason instanceof WorkflowTimeout) {
        finish("timeout", failureResult("Workflow execution timeout exceeded"));
      } else if (!done) finish("cancelled", failureResult("Workflow execution cancelled"));
    }, { once: true });

    const settle = (step: CompiledStep, outcome: StepOutcome) => {
      const rec = records.get(step.id)!;
      rec.finishedAt = clock.now();
      finishedCount++;
      if (outcome.status === "completed") {
        Object.assign(rec, {
          status: "completed",
          output: outcome.output,
          attempts: outcome.attempts,
        });
        if (outcome.content) rec.content = outcome.content;
        if (outcome.raw) rec.raw = outcome.raw;
        emit(step.id, { status: "completed" });
        if (outcome.skipRemaining) skipRemaining();
      } else if (outcome.status === "skipped") {
        Object.assign(rec, { status: "skipped", output: step.defaultResults });
        emit(step.id, { status: "skipped" });
      } else {
        Object.assign(rec, { status: "failed", error: outcome.error, attempts: outcome.attempts });
        emit(step.id, { status: "failed", error: outcome.error });
        if (outcome.fatal || step.onError.action !== "continue") {
          finish(
            "failed",
            failureResult(`Workflow execution failed: step "${step.id}": ${outcome.error}`),
          );
          return;
        }
        rec.output = step.defaultResults;
      }
      for (const d of dependents.get(step.id) ?? []) {
        const n = remaining.get(d.id)! - 1;
        remaining.set(d.id, n);
        if (n === 0) ready.push(d);
      }
      ready.sort((a, b) => a.index - b.index);
    };

    const skipRemaining = () => {
      stopStarting = true;
      for (const r of records.values()) {
        if (r.status !== "pending") continue;
        const s = wf.steps.find((x) => x.id === r.id)!;
        Object.assign(r, { status: "skipped", output: s.defaultResults });
        finishedCount++;
        emit(r.id, { status: "skipped" });
      }
      ready = [];
    };

    const start = async (step: CompiledStep) => {
      running++;
      const rec = records.get(step.id)!;
      rec.status = "running";
      rec.startedAt = clock.now();
      emit(step.id, { status: "started" });
      let outcome: StepOutcome;
      const t = timeoutSignal(runCtl.signal, step.timeoutMs, clock, () => new StepTimeout());
      try {
        if (step.condition && !conditionHolds(step, data())) outcome = { status: "skipped" };
        else {
          const ctx: StepContext = {
            deps,
            clock,
            signal: t.signal,
            data,
            emit: (e) => emit(step.id, e),
          };
          outcome = await executeStep(step, ctx);
        }
      } catch (e) {
        if (runCtl.signal.aborted) return; // the run is over (timeout, cancel, abort)
        const timedOut = e instanceof StepTimeout || t.signal.reason instanceof StepTimeout;
        outcome = timedOut
          ? {
            status: "failed",
            error: `step timeout of ${formatDurationMs(step.timeoutMs)} exceeded`,
            attempts: rec.attempts || 1,
          }
          : {
            status: "failed",
            error: truncateText(e instanceof Error ? e.message : String(e)),
            attempts: 1,
          };
        if (timedOut && step.elicitation) outcome = elicitationTimeout(step);
      } finally {
        t.dispose();
        running--;
      }
      if (done) return;
      settle(step, outcome);
      pump();
    };

    const pump = () => {
      if (done) return;
      if (stopStarting) ready = [];
      while (!stopStarting && running < max && ready.length > 0) start(ready.shift()!);
      if (running === 0 && ready.length === 0) complete();
    };

    const complete = () => {
      workflowStatus = "completed";
      if (wf.output) {
        try {
          const out = buildOutput(wf.output, data());
          finish("completed", successResult(out));
        } catch (e) {
          finish(
            "failed",
            failureResult(
              `Workflow execution failed: output construction failed: ${(e as Error).message}`,
            ),
          );
        }
        return;
      }
      finish("completed", lastStepResult(wf, records));
    };

    pump();
  });
}

function conditionHolds(step: CompiledStep, data: unknown): boolean {
  const v = evaluateTemplate(step.condition!, data);
  if (typeof v === "boolean") return v;
  const s = String(v).trim();
  if (/^true$/i.test(s)) return true;
  if (/^false$/i.test(s)) return false;
  throw new Error(
    `condition must render true or false, got ${JSON.stringify(v)} from ${
      JSON.stringify(step.condition!.source)
    }`,
  );
}

/** A timed-out elicitation counts as a cancel (as upstream). */
function elicitationTimeout(step: CompiledStep): StepOutcome {
  const handler = step.elicitation!.onCancel;
  if (handler === "abort") {
    return {
      status: "failed",
      error: "elicitation timed out (treated as cancel)",
      attempts: 1,
      fatal: true,
    };
  }
  return {
    status: "completed",
    output: { action: "cancel", skipped: handler === "skip_remaining" },
    attempts: 1,
    skipRemaining: handler === "skip_remaining",
  };
}

/** Without `output`: the last declared step's tool result as is, or its output as JSON. */
function lastStepResult(wf: CompiledWorkflow, records: Map<string, StepRecord>): CallToolResult {
  const last = records.get(wf.steps[wf.steps.length - 1]!.id)!;
  if (last.status === "completed" && last.raw) {
    const r: CallToolResult = { content: last.raw.content };
    if (last.raw.structuredContent !== undefined) r.structuredContent = last.raw.structuredContent;
    return r;
  }
  return successResult(last.output ?? {});
}
