/**
 * Runs one workflow step (tool call with retries, elicitation, forEach) and reports its
 * outcome; the scheduler in `engine.ts` decides what the outcome means for the workflow.
 * @module
 */

import type { CallToolResult } from "../sdk.ts";
import type { Clock } from "../clock.ts";
import { truncateText } from "../truncate.ts";
import { coerceToSchema } from "./coerce.ts";
import type { ArgTree, CompiledStep, CompiledToolCall, RetryPolicy, ToolInfo } from "./compile.ts";
import { contentMap, errorText, toolStepOutput } from "./results.ts";
import { evaluateTemplate, renderTemplate } from "./template.ts";

/** Progress reported by a backend tool during a call (MCP progress notification). */
export interface ToolProgress {
  progress: number;
  total?: number;
  message?: string;
}

export interface CallToolOptions {
  signal: AbortSignal;
  /** The step (and, in a forEach, the iteration) making the call. */
  stepId: string;
  iteration?: number;
  /** The catalogue entry the step's `tool` resolved to at compile time. */
  tool?: ToolInfo;
  onProgress: (progress: ToolProgress) => void;
}

export interface ElicitResult {
  action: "accept" | "decline" | "cancel";
  content?: Record<string, unknown>;
}

/** What the engine needs from the proxy. */
export interface WorkflowDeps {
  /** Calls a backend tool by the step's `tool` reference (advertised or backend.original name). */
  callTool(
    ref: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult>;
  /** Sends an elicitation to the calling client. Without it, elicitation steps fail. */
  elicit?(
    message: string,
    schema: Record<string, unknown>,
    options: { signal: AbortSignal; stepId: string },
  ): Promise<ElicitResult>;
  /** @default systemClock */
  clock?: Clock;
}

export type StepOutcome =
  | {
    status: "completed";
    output: unknown;
    content?: Record<string, unknown>;
    raw?: CallToolResult;
    skipRemaining?: boolean;
    attempts: number;
  }
  | { status: "skipped" }
  | { status: "failed"; error: string; attempts: number; fatal?: boolean };

/** Internal context the engine hands each step. */
export interface StepContext {
  deps: WorkflowDeps;
  clock: Clock;
  signal: AbortSignal;
  data: (extra?: Record<string, unknown>) => Record<string, unknown>;
  emit: (
    event: {
      status: "retrying" | "progress";
      attempt?: number;
      error?: string;
      iteration?: number;
      progress?: ToolProgress;
    },
  ) => void;
}

/** Resolves when `p` settles or rejects with the signal's reason when it aborts first. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A signal that aborts with the parent, or with `reason()` after `ms` on `clock`. */
export function timeoutSignal(
  parent: AbortSignal,
  ms: number,
  clock: Clock,
  reason: () => Error,
): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const timer = new AbortController();
  const onParent = () => ctl.abort(parent.reason);
  if (parent.aborted) ctl.abort(parent.reason);
  else parent.addEventListener("abort", onParent, { once: true });
  clock.sleep(ms, timer.signal).then(() => ctl.abort(reason()), () => {});
  return {
    signal: ctl.signal,
    dispose: () => {
      timer.abort();
      parent.removeEventListener("abort", onParent);
    },
  };
}

/** Renders an argument tree: single-action templates keep their type; missing values are dropped. */
export function renderArgs(tree: ArgTree, data: unknown): unknown {
  switch (tree.kind) {
    case "literal":
      return tree.value;
    case "template":
      return evaluateTemplate(tree.template, data);
    case "array":
      return tree.items.map((x) => renderArgs(x, data) ?? null);
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of tree.entries) {
        const x = renderArgs(v, data);
        if (x !== undefined) out[k] = x;
      }
      return out;
    }
  }
}

/** An error's text, at most ~1 KB of it (a backend may echo a huge argument). */
const message = (e: unknown) => truncateText(e instanceof Error ? e.message : String(e));

/** Calls a tool under a retry policy; throws the last error when attempts run out. */
async function callWithRetry(
  ctx: StepContext,
  stepId: string,
  call: CompiledToolCall,
  args: Record<string, unknown>,
  policy: RetryPolicy,
  signal: AbortSignal,
  iteration?: number,
): Promise<{ result: CallToolResult; attempts: number }> {
  let delay = policy.delayMs;
  for (let attempt = 1;; attempt++) {
    try {
      const opts: CallToolOptions = {
        signal,
        stepId,
        onProgress: (progress) => ctx.emit({ status: "progress", progress, iteration }),
      };
      if (iteration !== undefined) opts.iteration = iteration;
      if (call.tool) opts.tool = call.tool;
      const result = await raceAbort(ctx.deps.callTool(call.ref, args, opts), signal);
      if (result.isError) throw new Error(errorText(result));
      return { result, attempts: attempt };
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      if (attempt >= policy.attempts) {
        throw new Error(
          policy.attempts > 1 ? `failed after ${attempt} attempts: ${message(e)}` : message(e),
        );
      }
      ctx.emit({ status: "retrying", attempt: attempt + 1, error: message(e), iteration });
      await ctx.clock.sleep(delay, signal);
      delay = Math.min(delay * 2, policy.delayMs * 60);
    }
  }
}

function callArgs(call: CompiledToolCall, data: unknown): Record<string, unknown> {
  const args = coerceToSchema(renderArgs(call.args, data), call.tool?.inputSchema);
  return (args ?? {}) as Record<string, unknown>;
}

/** Runs the step's action (the condition was already evaluated). Throws only on abort. */
export async function executeStep(step: CompiledStep, ctx: StepContext): Promise<StepOutcome> {
  const signal = ctx.signal;
  try {
    if (step.call) {
      const args = callArgs(step.call, ctx.data());
      const { result, attempts } = await callWithRetry(
        ctx,
        step.id,
        step.call,
        args,
        step.onError,
        signal,
      );
      return {
        status: "completed",
        output: toolStepOutput(result),
        content: contentMap(result),
        raw: result,
        attempts,
      };
    }
    if (step.elicitation) return await elicitationStep(step, ctx);
    if (step.forEach) return await forEachStep(step, ctx);
    return { status: "failed", error: "step has nothing to run", attempts: 0 };
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    return { status: "failed", error: message(e), attempts: 1 };
  }
}

async function elicitationStep(step: CompiledStep, ctx: StepContext): Promise<StepOutcome> {
  const el = step.elicitation!;
  if (!ctx.deps.elicit) {
    return { status: "failed", error: "the client does not support elicitation", attempts: 1 };
  }
  const text = renderTemplate(el.message, ctx.data());
  const res = await raceAbort(
    ctx.deps.elicit(text, el.schema, { signal: ctx.signal, stepId: step.id }),
    ctx.signal,
  );
  if (res.action === "accept") {
    return {
      status: "completed",
      output: { action: "accept", content: res.content ?? {} },
      attempts: 1,
    };
  }
  const handler = res.action === "decline" ? el.onDecline : el.onCancel;
  if (handler === "abort") {
    return {
      status: "failed",
      error: `user ${res.action === "decline" ? "declined" : "cancelled"} the elicitation`,
      attempts: 1,
      fatal: true,
    };
  }
  const output = { action: res.action, skipped: handler === "skip_remaining" };
  return { status: "completed", output, attempts: 1, skipRemaining: handler === "skip_remaining" };
}

interface Iteration {
  index: number;
  item: unknown;
  status: "completed" | "failed" | "pending";
  output?: unknown;
  error?: string;
}

async function forEachStep(step: CompiledStep, ctx: StepContext): Promise<StepOutcome> {
  const fe = step.forEach!;
  let items = evaluateTemplate(fe.collection, ctx.data());
  if (typeof items === "string") {
    try {
      items = JSON.parse(items);
    } catch {
      return {
        status: "failed",
        error: `collection must render a JSON array, got ${
          JSON.stringify(String(items).slice(0, 100))
        }`,
        attempts: 1,
      };
    }
  }
  if (!Array.isArray(items)) {
    return {
      status: "failed",
      error: `collection must be an array, got ${JSON.stringify(items)?.slice(0, 100)}`,
      attempts: 1,
    };
  }
  if (items.length > fe.maxIterations) {
    return {
      status: "failed",
      error: `collection has ${items.length} items; maxIterations is ${fe.maxIterations}`,
      attempts: 1,
    };
  }
  const iterations: Iteration[] = items.map((item, index) => ({ index, item, status: "pending" }));
  const abortAll = new AbortController();
  const onParent = () => abortAll.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onParent, { once: true });
  let firstError: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < iterations.length && !abortAll.signal.aborted) {
      const it = iterations[next++]!;
      const t = fe.timeoutMs === undefined
        ? undefined
        : timeoutSignal(abortAll.signal, fe.timeoutMs, ctx.clock, () =>
          new Error(`iteration timeout exceeded`));
      const signal = t?.signal ?? abortAll.signal;
      try {
        const data = ctx.data({ forEach: { [fe.itemVar]: it.item, index: it.index } });
        const { result } = await callWithRetry(
          ctx,
          step.id,
          fe.call,
          callArgs(fe.call, data),
          fe.onError,
          signal,
          it.index,
        );
        it.status = "completed";
        it.output = toolStepOutput(result);
      } catch (e) {
        if (abortAll.signal.aborted) return;
        it.status = "failed";
        it.error = message(e);
        if (fe.onError.action !== "continue") {
          firstError ??= `iteration ${it.index}: ${it.error}`;
          abortAll.abort(new Error(firstError));
        }
      } finally {
        t?.dispose();
      }
      ctx.emit({
        status: "progress",
        iteration: it.index,
        progress: {
          progress: iterations.filter((x) => x.status !== "pending").length,
          total: iterations.length,
        },
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(fe.maxParallel, iterations.length) }, worker));
  } finally {
    ctx.signal.removeEventListener("abort", onParent);
  }
  if (ctx.signal.aborted) throw ctx.signal.reason;
  if (firstError) return { status: "failed", error: firstError, attempts: 1 };
  const completed = iterations.filter((x) => x.status === "completed").length;
  const output = {
    iterations: iterations.map((x) => ({
      index: x.index,
      item: x.item,
      status: x.status,
      output: x.output,
      error: x.error,
    })),
    count: iterations.length,
    completed,
    failed: iterations.length - completed,
  };
  return { status: "completed", output, attempts: 1 };
}
