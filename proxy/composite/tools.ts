/**
 * Composite tools as proxy tools: every `compositeTools` entry of the config compiled against
 * the full aggregated view (hidden tools included) and served as an `ExtraTool` whose handler
 * runs the workflow for the calling session: step calls go through the router, elicitation
 * steps ask the calling client, step state changes become progress notifications, and the
 * client's cancellation stops the running steps. Each served tool carries the backends its
 * steps call (`ExtraTool.backends`, see `backends.ts`): the runtime hides it and the router
 * refuses it while one of them is not routable.
 * @module
 */
import type { AggregatedView } from "../../core/aggregation/mod.ts";
import {
  compileCompositeTool,
  type CompiledWorkflow,
  type ElicitResult,
  executeWorkflow,
  type StepProgressEvent,
  type WorkflowDeps,
} from "../../core/composite/mod.ts";
import { qualifyCompositeProblems } from "../../core/config/composite.ts";
import type { Problem } from "../../core/config/problems.ts";
import type { Logger } from "../../core/log.ts";
import {
  type CallToolResult,
  ElicitResultSchema,
  type RequestId,
  type Tool,
} from "../../core/sdk.ts";
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import type { AnyObject } from "../backends/connection.ts";
import type { ExtraTool, ExtraToolContext } from "../router_state.ts";
import { compositeAnnotations } from "./annotations.ts";
import { compositeBackends } from "./backends.ts";
import { type RoutedToolInfo, viewCatalogue } from "./catalogue.ts";
import { WorkflowAudit } from "../audit/workflow.ts";
import { type WorkflowSpans, workflowSpans } from "../telemetry/workflow.ts";

export interface CompositeTools {
  /** Tool name → served tool (only the definitions without problems). */
  tools: Map<string, ExtraTool>;
  /** Every problem, under `compositeTools[i]…` paths, naming the step id. */
  problems: Problem[];
}

/** Step state changes reported to the client (not the backends' own progress). */
const STATE_CHANGES = new Set<StepProgressEvent["status"]>([
  "started",
  "retrying",
  "completed",
  "failed",
  "skipped",
]);

/**
 * Compiles every composite tool of `config` against `view` (use the FULL view: tools hidden by
 * filters, `excludeAll` or conflicts stay usable by steps). A definition with problems, a name
 * taken by an advertised backend tool, or annotations safer than its steps allow is left out
 * and reported.
 */
export function buildCompositeTools(
  config: VmcpConfig,
  view: AggregatedView,
  log: Logger,
): CompositeTools {
  const tools = new Map<string, ExtraTool>();
  const problems: Problem[] = [];
  const catalogue = viewCatalogue(view);
  (config.compositeTools ?? []).forEach((def, i) => {
    const at = `compositeTools[${i}]`;
    const compiled = compileCompositeTool(def, catalogue);
    if (!compiled.ok) {
      problems.push(...qualifyCompositeProblems(def, i, compiled.problems));
      return;
    }
    const wf = compiled.workflow;
    const taken = view.toolRoutes.get(wf.name);
    if (taken && !taken.hidden) {
      problems.push({
        path: `${at}.name`,
        message: `composite tool name "${wf.name}" is already the name of tool ` +
          `"${taken.originalName}" of backend "${taken.backend}"; choose another name`,
        value: wf.name,
      });
      return;
    }
    if (tools.has(wf.name)) {
      problems.push({
        path: `${at}.name`,
        message: `duplicate composite tool name "${wf.name}"`,
        value: wf.name,
      });
      return;
    }
    const { annotations, problems: hintProblems } = compositeAnnotations(wf, at);
    if (hintProblems.length > 0) {
      problems.push(...hintProblems);
      return;
    }
    const tool: Tool = {
      name: wf.name,
      description: wf.description,
      inputSchema: wf.inputSchema,
      annotations,
    };
    if (wf.outputSchema) tool.outputSchema = wf.outputSchema;
    tools.set(wf.name, {
      tool,
      handler: (args, ctx) => runComposite(wf, args, ctx, log),
      backends: compositeBackends(wf),
    });
  });
  return { tools, problems };
}

/** Runs one call of a composite tool for the calling session. */
export async function runComposite(
  wf: CompiledWorkflow,
  args: AnyObject,
  ctx: ExtraToolContext,
  log: Logger,
): Promise<AnyObject> {
  let sequence = 0;
  // The audit trail (when on): workflow and step events, step calls as tool-call events.
  const audit = ctx.audit ? new WorkflowAudit(ctx.audit, ctx, wf) : undefined;
  audit?.started(args);
  const spans = workflowSpans(wf.name); // OpenTelemetry (when tracing): workflow + step spans
  const run = await executeWorkflow(wf, args, workflowDeps(ctx, audit, spans), {
    signal: ctx.signal,
    ...(audit ? { workflowId: audit.workflowId } : {}),
    onProgress: (e) => {
      audit?.step(e);
      spans?.onStep(e);
      if (!STATE_CHANGES.has(e.status)) return;
      // `progress` must increase with every notification: count the state changes.
      ctx.progress({ progress: ++sequence, message: `step ${e.stepId} ${e.status}` });
    },
  });
  audit?.finished(run);
  spans?.end(run.status, run.workflowId);
  const fields = {
    tool: wf.name,
    workflowId: run.workflowId,
    status: run.status,
    durationMs: run.durationMs,
  };
  if (run.status === "completed") log.debug("composite tool finished", fields);
  else log.info("composite tool did not complete", { ...fields, error: errorOf(run.result) });
  return run.result as AnyObject;
}

function errorOf(result: CallToolResult): string | undefined {
  const first = result.content?.[0];
  return first?.type === "text" ? first.text : undefined;
}

/** Step calls through the router; elicitation relayed to the calling client. */
export function workflowDeps(
  ctx: ExtraToolContext,
  audit?: WorkflowAudit,
  spans?: WorkflowSpans,
): WorkflowDeps {
  return {
    callTool: async (ref, args, opts) => {
      // The compiled reference always routes back to the tool the step was checked against.
      const callRef = (opts.tool as RoutedToolInfo | undefined)?.callRef ?? ref;
      const send = () => ctx.callTool(callRef, args, { signal: opts.signal });
      const call = spans ? () => spans.inStep(opts.stepId, send) : send;
      return await (audit ? audit.call(opts, callRef, args, call) : call()) as CallToolResult;
    },
    elicit: (message, schema, opts) => elicit(ctx, message, schema, opts),
  };
}

async function elicit(
  ctx: ExtraToolContext,
  message: string,
  schema: Record<string, unknown>,
  opts: { signal: AbortSignal; stepId: string },
): Promise<ElicitResult> {
  if (!ctx.session.clientCapabilities()?.elicitation) {
    throw new Error(
      `elicitation step "${opts.stepId}" needs a client that supports elicitation; ` +
        "this client did not declare the elicitation capability at initialize",
    );
  }
  const requestedSchema = { type: "object", properties: {}, ...schema };
  // Routers that know the call's request id pass it, so the request can share its stream.
  const relatedRequestId = (ctx as { requestId?: RequestId }).requestId;
  const answer = await ctx.session.request(
    { method: "elicitation/create", params: { message, requestedSchema } },
    { signal: opts.signal, ...(relatedRequestId !== undefined ? { relatedRequestId } : {}) },
  );
  const parsed = ElicitResultSchema.safeParse(answer);
  if (!parsed.success) {
    throw new Error(
      `elicitation step "${opts.stepId}": the client's answer is not an elicitation result ` +
        `(${
          parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")
        })`,
    );
  }
  const out: ElicitResult = { action: parsed.data.action };
  if (parsed.data.content) out.content = parsed.data.content as Record<string, unknown>;
  return out;
}
