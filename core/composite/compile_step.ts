/**
 * Compiles one workflow step: templates, tool resolution, type-specific checks.
 * @module
 */

import type {
  ForEachInnerStep,
  StepErrorHandling,
  WorkflowStep,
} from "../../crds/composite_tool.ts";
import { parseDuration } from "../duration.ts";
import type {
  ArgTree,
  CompiledStep,
  CompiledToolCall,
  RetryPolicy,
  ToolCatalogue,
} from "./compile.ts";
import { compileTemplateAt, type Problem } from "./problems.ts";
import type { Template } from "./template.ts";

/** Per-step timeout when the step sets none (5m). */
export const DEFAULT_STEP_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_RETRY_DELAY_MS = 1000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function retryPolicy(h: StepErrorHandling | undefined): RetryPolicy {
  const action = h?.action ?? "abort";
  const delayMs = h?.retryDelay ? parseDuration(h.retryDelay) : DEFAULT_RETRY_DELAY_MS;
  const attempts = action === "retry" ? 1 + Math.min(h?.retryCount ?? 0, 10) : 1;
  return { action, attempts, delayMs };
}

const TYPE_FIELDS: Record<string, CompiledStep["type"]> = {
  tool: "tool",
  arguments: "tool",
  message: "elicitation",
  schema: "elicitation",
  onDecline: "elicitation",
  onCancel: "elicitation",
  collection: "forEach",
  itemVar: "forEach",
  maxParallel: "forEach",
  maxIterations: "forEach",
  step: "forEach",
};

/** Compiles a schema-valid step, recording every problem. */
export function compileStep(
  step: WorkflowStep,
  index: number,
  raw: unknown,
  catalogue: ToolCatalogue | undefined,
  problems: Problem[],
  onTemplate: (t: Template, path: string) => void,
): CompiledStep {
  const at = `steps[${index}]`;
  const tpl = (text: string, path: string) => {
    const t = compileTemplateAt(text, path, problems);
    if (t) onTemplate(t, path);
    return t;
  };
  const rawType = isObject(raw) ? raw.type : undefined;
  if (rawType === undefined && step.tool !== undefined && step.message !== undefined) {
    problems.push({
      path: `${at}.type`,
      message: 'is required when both tool and message are set ("tool" or "elicitation")',
    });
  }
  for (const [field, owner] of Object.entries(TYPE_FIELDS)) {
    if ((step as Record<string, unknown>)[field] !== undefined && owner !== step.type) {
      problems.push({
        path: `${at}.${field}`,
        message: `is only used by ${owner} steps; this step's type is "${step.type}"`,
      });
    }
  }
  if (step.onError?.action === "retry" && step.onError.retryCount === undefined) {
    problems.push({
      path: `${at}.onError.retryCount`,
      message: "is required when action is retry",
    });
  }
  const s: CompiledStep = {
    id: step.id,
    index,
    type: step.type,
    deps: [...new Set(step.dependsOn ?? [])],
    onError: retryPolicy(step.onError),
    timeoutMs: step.timeout ? parseDuration(step.timeout) : DEFAULT_STEP_TIMEOUT_MS,
  };
  if (step.defaultResults) s.defaultResults = step.defaultResults;
  if (step.condition !== undefined) s.condition = tpl(step.condition, `${at}.condition`);
  if (step.type === "tool") {
    if (step.tool === undefined) {
      problems.push({ path: `${at}.tool`, message: "is required for tool steps" });
    } else {
      s.call = compileCall(step.tool, step.arguments, `${at}`, catalogue, problems, tpl);
    }
  } else if (step.type === "elicitation") {
    if (step.message === undefined || step.message === "") {
      problems.push({ path: `${at}.message`, message: "is required for elicitation steps" });
    } else {
      const message = tpl(step.message, `${at}.message`);
      if (message) {
        s.elicitation = {
          message,
          schema: step.schema ?? { type: "object", properties: {} },
          onDecline: step.onDecline?.action ?? "abort",
          onCancel: step.onCancel?.action ?? "abort",
        };
      }
    }
  } else {
    compileForEach(step, s, at, catalogue, problems, tpl);
  }
  return s;
}

function compileForEach(
  step: WorkflowStep,
  s: CompiledStep,
  at: string,
  catalogue: ToolCatalogue | undefined,
  problems: Problem[],
  tpl: (text: string, path: string) => Template | undefined,
): void {
  if (step.collection === undefined || step.collection === "") {
    problems.push({ path: `${at}.collection`, message: "is required for forEach steps" });
  }
  if (step.itemVar === "index") {
    problems.push({
      path: `${at}.itemVar`,
      message: 'cannot be "index" (reserved for .forEach.index)',
    });
  }
  const inner: ForEachInnerStep | undefined = step.step;
  if (!inner) {
    problems.push({ path: `${at}.step`, message: "is required for forEach steps (a tool step)" });
    return;
  }
  if (inner.onError?.action === "retry" && inner.onError.retryCount === undefined) {
    problems.push({
      path: `${at}.step.onError.retryCount`,
      message: "is required when action is retry",
    });
  }
  const collection = step.collection ? tpl(step.collection, `${at}.collection`) : undefined;
  const call = compileCall(inner.tool, inner.arguments, `${at}.step`, catalogue, problems, tpl);
  if (!collection) return;
  s.forEach = {
    collection,
    itemVar: step.itemVar ?? "item",
    maxParallel: step.maxParallel ?? 10,
    maxIterations: step.maxIterations ?? 100,
    call,
    onError: retryPolicy(inner.onError),
  };
  if (inner.timeout) s.forEach.timeoutMs = parseDuration(inner.timeout);
}

function compileCall(
  ref: string,
  args: Record<string, unknown> | undefined,
  at: string,
  catalogue: ToolCatalogue | undefined,
  problems: Problem[],
  tpl: (text: string, path: string) => Template | undefined,
): CompiledToolCall {
  const call: CompiledToolCall = { ref, args: { kind: "object", entries: [] } };
  if (catalogue) {
    const info = catalogue.resolve(ref);
    if (info) call.tool = info;
    else {
      problems.push({
        path: `${at}.tool`,
        message: `unknown tool "${ref}": use an advertised tool name or ` +
          "<backend>.<originalToolName> of a tool in the group",
      });
    }
  }
  const compileArg = (v: unknown, path: string, depth: number): ArgTree => {
    if (depth > 100) {
      problems.push({ path, message: "arguments nest deeper than 100 levels" });
      return { kind: "literal", value: v };
    }
    if (typeof v === "string") {
      if (!v.includes("{{")) return { kind: "literal", value: v };
      const t = tpl(v, path);
      return t ? { kind: "template", template: t } : { kind: "literal", value: v };
    }
    if (Array.isArray(v)) {
      return { kind: "array", items: v.map((x, i) => compileArg(x, `${path}[${i}]`, depth + 1)) };
    }
    if (isObject(v)) {
      return {
        kind: "object",
        entries: Object.entries(v).map(([k, x]) => [k, compileArg(x, `${path}.${k}`, depth + 1)]),
      };
    }
    return { kind: "literal", value: v };
  };
  if (args) call.args = compileArg(args, `${at}.arguments`, 0);
  return call;
}
