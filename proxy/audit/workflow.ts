/**
 * Audit events of one composite tool run: `workflow_started`, then per step
 * `workflow_step_started` / `_completed` / `_failed` / `_timed_out` / `_skipped` /
 * `_retrying` (from the engine's `onProgress`), each step's tool call as an `mcp_tool_call`
 * event carrying `workflowId` and `stepId` (a step Cedar refuses is outcome `denied`), and
 * `workflow_completed` / `_failed` / `_timed_out` from the run's status. Every event carries the
 * run's `workflowId` (also the workflow's `.workflow.id`).
 * @module
 */
import type { Identity } from "../../core/auth/identity.ts";
import type {
  CallToolOptions,
  CompiledWorkflow,
  StepProgressEvent,
  WorkflowRun,
} from "../../core/composite/mod.ts";
import type { AuditEventType } from "../../crds/audit.ts";
import type { AnyObject, SessionPeer } from "../backends/connection.ts";
import type { ToolRoute } from "../../core/aggregation/mod.ts";
import { AT, type Auditor, type AuditOutcome, cap, SessionRef, who } from "./auditor.ts";

const STEP_TYPES: Partial<Record<StepProgressEvent["status"], AuditEventType>> = {
  started: "workflow_step_started",
  retrying: "workflow_step_retrying",
  completed: "workflow_step_completed",
  failed: "workflow_step_failed",
  skipped: "workflow_step_skipped",
};
const RUN_TYPES: Record<WorkflowRun["status"], AuditEventType> = {
  completed: "workflow_completed",
  failed: "workflow_failed",
  cancelled: "workflow_failed",
  timeout: "workflow_timed_out",
};
/** How the engine words a step that ran out of its `timeout`. */
const STEP_TIMEOUT = "step timeout of ";

export class WorkflowAudit {
  readonly workflowId: string = crypto.randomUUID();
  readonly #auditor: Auditor;
  readonly #session: SessionPeer;
  readonly #wf: CompiledWorkflow;
  readonly #who: { subject: string; issuer?: string };
  readonly #legacy: boolean;
  readonly #stepStart = new Map<string, number>();

  constructor(
    auditor: Auditor,
    caller: { identity: Identity; session: SessionPeer },
    wf: CompiledWorkflow,
  ) {
    this.#auditor = auditor;
    this.#session = caller.session;
    this.#wf = wf;
    this.#who = who(caller.identity);
    this.#legacy = (caller.session as { server?: unknown }).server !== undefined;
  }

  #emit(type: AuditEventType, outcome: AuditOutcome, fields: Record<string, unknown>): void {
    this.#auditor.emit({
      type,
      outcome,
      [AT]: Date.now(),
      ...this.#who,
      era: this.#legacy ? "legacy" : "modern",
      session: this.#legacy ? new SessionRef(this.#session) : undefined,
      workflow: this.#wf.name,
      workflowId: this.workflowId,
      ...fields,
    });
  }

  /** The run begins (`args` as the client sent them). */
  started(args: AnyObject): void {
    this.#emit("workflow_started", "success", {
      timeoutMs: this.#wf.timeoutMs,
      stepCount: this.#wf.steps.length,
      ...this.#auditor.requestData(args),
    });
  }

  /** One engine progress event. */
  step(e: StepProgressEvent): void {
    let type = STEP_TYPES[e.status];
    if (!type) return;
    const now = performance.now();
    const fields: Record<string, unknown> = { stepId: e.stepId };
    if (e.iteration !== undefined) fields.iteration = e.iteration;
    if (e.status === "started") {
      this.#stepStart.set(e.stepId, now);
      const step = this.#wf.steps.find((s) => s.id === e.stepId);
      fields.stepType = step?.type;
      fields.tool = step?.call?.ref ?? step?.forEach?.call.ref;
    } else if (e.status !== "retrying") {
      const began = this.#stepStart.get(e.stepId);
      if (began !== undefined) fields.durationMs = Math.round((now - began) * 1000) / 1000;
    }
    if (e.attempt !== undefined) fields.attempt = e.attempt;
    // A step's error may quote a backend's answer or the arguments: redacted as any message.
    if (e.error !== undefined) fields.error = cap(e.error);
    if (e.status === "failed" && e.error?.startsWith(STEP_TIMEOUT)) {
      type = "workflow_step_timed_out";
    }
    const failed = e.status === "failed" || e.status === "retrying";
    this.#emit(type, failed ? "error" : "success", fields);
  }

  /** A step's tool call through the router (`run`), recorded as an `mcp_tool_call` event. */
  call(
    opts: CallToolOptions,
    ref: string,
    args: AnyObject,
    run: () => Promise<AnyObject>,
  ): Promise<AnyObject> {
    const route = (opts.tool as { route?: ToolRoute } | undefined)?.route;
    return this.#auditor.stepCall(
      this.#session,
      {
        workflowId: this.workflowId,
        stepId: opts.stepId,
        name: ref,
        ...(route ? { backend: route.backend, originalName: route.originalName } : {}),
      },
      args,
      run,
    );
  }

  /** The run ended. */
  finished(run: WorkflowRun): void {
    this.#emit(RUN_TYPES[run.status], run.status === "completed" ? "success" : "error", {
      status: run.status,
      durationMs: Math.round(run.durationMs * 1000) / 1000,
      stepCount: Object.keys(run.steps).length,
    });
  }
}
