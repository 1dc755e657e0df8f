/**
 * Compiles a composite tool definition into a `CompiledWorkflow`: schema-checked,
 * every template parsed, tools resolved against a catalogue, dependencies (declared and
 * implied by template references) checked for unknown ids and cycles. Every problem is
 * collected and reported with its field path and value; nothing is left for call time.
 * @module
 */

import {
  type CompositeToolSpec,
  CompositeToolSpecSchema,
  OutputConfigSchema,
  type WorkflowStep,
  WorkflowStepSchema,
} from "../../crds/composite_tool.ts";
import { parseDuration } from "../duration.ts";
import { compileStep } from "./compile_step.ts";
import { findCycles } from "./graph.ts";
import { type CompiledOutput, compileOutput, outputSchemaOf } from "./output.ts";
import { checkParameterSchema, inputSchemaOf } from "./params.ts";
import { joinPath, type Problem } from "./problems.ts";
import { rootFieldPaths, type Template } from "./template.ts";

/** What the catalogue knows about a tool a step calls. */
export interface ToolInfo {
  /** The name clients see (and the router resolves). */
  advertisedName: string;
  /** The tool's input JSON Schema; arguments are coerced to its types. */
  inputSchema?: Record<string, unknown>;
}

/** Resolves a step's `tool` (advertised name or `<backend>.<originalToolName>`); hidden tools included. */
export interface ToolCatalogue {
  resolve(toolRef: string): ToolInfo | undefined;
}

/** Arguments with their templates parsed. */
export type ArgTree =
  | { kind: "template"; template: Template }
  | { kind: "object"; entries: [string, ArgTree][] }
  | { kind: "array"; items: ArgTree[] }
  | { kind: "literal"; value: unknown };

export interface RetryPolicy {
  action: "abort" | "continue" | "retry";
  /** Total attempts (1 unless action is retry: 1 + retryCount, capped at 11). */
  attempts: number;
  /** Delay before the first retry; doubles per retry, capped at 60×. */
  delayMs: number;
}

export interface CompiledToolCall {
  /** The `tool` as written in the step. */
  ref: string;
  /** The catalogue entry (undefined when compiled without a catalogue). */
  tool?: ToolInfo;
  args: ArgTree;
}

export type ElicitationAction = "abort" | "continue" | "skip_remaining";

export interface CompiledStep {
  id: string;
  index: number;
  type: "tool" | "elicitation" | "forEach";
  /** Declared `dependsOn` plus steps whose outputs this step's templates read. */
  deps: string[];
  condition?: Template;
  onError: RetryPolicy;
  timeoutMs: number;
  defaultResults?: Record<string, unknown>;
  call?: CompiledToolCall;
  elicitation?: {
    message: Template;
    schema: Record<string, unknown>;
    onDecline: ElicitationAction;
    onCancel: ElicitationAction;
  };
  forEach?: {
    collection: Template;
    itemVar: string;
    maxParallel: number;
    maxIterations: number;
    call: CompiledToolCall;
    onError: RetryPolicy;
    timeoutMs?: number;
  };
}

export interface CompiledWorkflow {
  name: string;
  description: string;
  spec: CompositeToolSpec;
  steps: CompiledStep[];
  timeoutMs: number;
  parameters?: Record<string, unknown>;
  /** The tool's advertised `inputSchema`. */
  inputSchema: Record<string, unknown> & { type: "object" };
  output?: CompiledOutput;
  /** The tool's advertised `outputSchema` (only with `output`). */
  outputSchema?: Record<string, unknown> & { type: "object" };
}

export type CompileResult =
  | { ok: true; workflow: CompiledWorkflow; problems: [] }
  | { ok: false; problems: Problem[] };

const MAX_STEPS = 100;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/**
 * Compiles and validates a composite tool definition (input as written: YAML/JSON data).
 *
 * @param input the `compositeTools[]` entry or `VirtualMCPCompositeToolDefinition.spec`
 * @param catalogue resolves step tools; without it, tools are not checked nor coerced
 * @returns the workflow, or every problem found (each with path and message)
 */
export function compileCompositeTool(input: unknown, catalogue?: ToolCatalogue): CompileResult {
  const problems: Problem[] = [];
  const parsed = CompositeToolSpecSchema.safeParse(input);
  let spec: CompositeToolSpec | undefined;
  // Steps and output that passed the schema, so that semantic checks still run on them.
  const steps: { step: WorkflowStep; index: number }[] = [];
  let output = undefined as CompositeToolSpec["output"];
  if (parsed.success) {
    spec = parsed.data;
    spec.steps.forEach((step, index) => steps.push({ step, index }));
    output = spec.output;
  } else {
    for (const issue of parsed.error.issues) {
      const got = valueAt(input, issue.path);
      problems.push({
        path: joinPath(issue.path) || "(root)",
        message: issue.message + (got === undefined ? "" : ` (got ${show(got)})`),
      });
    }
    const raw = isObject(input) ? input : {};
    if (Array.isArray(raw.steps)) {
      raw.steps.forEach((s, index) => {
        const r = WorkflowStepSchema.safeParse(s);
        if (r.success) steps.push({ step: r.data, index });
      });
    }
    const o = OutputConfigSchema.safeParse(raw.output);
    if (o.success) output = o.data;
  }
  const rawSteps = isObject(input) && Array.isArray(input.steps) ? input.steps : [];
  if (rawSteps.length > MAX_STEPS) {
    problems.push({ path: "steps", message: `has ${rawSteps.length} steps; at most ${MAX_STEPS}` });
  }
  // All ids written, even of steps that failed the schema, to avoid cascading "unknown" errors.
  const ids = new Map<string, number>();
  rawSteps.forEach((s, i) => {
    const id = isObject(s) ? s.id : undefined;
    if (typeof id !== "string") return;
    const first = ids.get(id);
    if (first !== undefined) {
      problems.push({
        path: `steps[${i}].id`,
        message: `duplicate step id "${id}" (first used by steps[${first}])`,
      });
    } else ids.set(id, i);
  });

  if (isObject(input) && input.parameters !== undefined) {
    problems.push(...checkParameterSchema(input.parameters));
  }

  const refs: { from: string | undefined; path: string; fields: string[] }[] = [];
  const onTemplate = (from: string | undefined) => (t: Template, path: string) => {
    for (const p of rootFieldPaths(t)) {
      if (p[0] === "steps" && p[1] !== undefined) refs.push({ from, path, fields: p.slice(1) });
    }
  };

  const compiled: CompiledStep[] = [];
  for (const { step, index } of steps) {
    compiled.push(
      compileStep(step, index, rawSteps[index], catalogue, problems, onTemplate(step.id)),
    );
  }
  const compiledOutput = output
    ? compileOutput(output, problems, onTemplate(undefined))
    : undefined;

  // References: unknown steps, self references, implied dependencies, defaultResults.
  const byId = new Map<string, CompiledStep>();
  for (const s of compiled) if (!byId.has(s.id)) byId.set(s.id, s);
  const reported = new Set<string>();
  for (const ref of refs) {
    const [target, part, field] = ref.fields as [string, string?, string?];
    if (!ids.has(target)) {
      problems.push({
        path: ref.path,
        message: `template reads unknown step "${target}" (steps: ${[...ids.keys()].join(", ")})`,
      });
      continue;
    }
    if (ref.from === target) {
      problems.push({ path: ref.path, message: `step "${target}" cannot read its own result` });
      continue;
    }
    const from = ref.from === undefined ? undefined : byId.get(ref.from);
    if (from && !from.deps.includes(target)) from.deps.push(target);
    const t = byId.get(target);
    const skippable = t && (t.condition !== undefined || t.onError.action === "continue");
    if (skippable && part === "output" && field !== undefined) {
      if (!t.defaultResults || !Object.hasOwn(t.defaultResults, field)) {
        const key = `${target}\u0000${field}`;
        if (!reported.has(key)) {
          reported.add(key);
          problems.push({
            path: `steps[${t.index}].defaultResults`,
            message: `needs key "${field}": ${ref.path} reads .steps.${target}.output.${field} ` +
              `and step "${target}" can be skipped (condition or onError continue)`,
          });
        }
      }
    }
  }

  // Declared dependencies must exist; the graph (declared + implied) must be acyclic.
  for (const s of compiled) {
    const declared = steps.find((x) => x.step.id === s.id)?.step.dependsOn ?? [];
    declared.forEach((d, j) => {
      if (!ids.has(d)) {
        problems.push({
          path: `steps[${s.index}].dependsOn[${j}]`,
          message: `unknown step id "${d}" (steps: ${[...ids.keys()].join(", ")})`,
        });
      }
    });
    s.deps = s.deps.filter((d) => byId.has(d) || ids.has(d));
  }
  const graph = new Map<string, string[]>();
  for (const s of compiled) graph.set(s.id, [...(graph.get(s.id) ?? []), ...s.deps]);
  const cycles = findCycles(graph);
  for (const cycle of cycles) {
    const first = byId.get(cycle[0]!)!;
    problems.push({
      path: `steps[${first.index}].dependsOn`,
      message: `dependency cycle: ${cycle.join(" -> ")}`,
    });
  }

  if (problems.length > 0 || !spec) return { ok: false, problems };
  const workflow: CompiledWorkflow = {
    name: spec.name,
    description: spec.description,
    spec,
    steps: compiled,
    timeoutMs: parseDuration(spec.timeout),
    inputSchema: inputSchemaOf(spec.parameters),
  };
  if (spec.parameters) workflow.parameters = spec.parameters;
  if (compiledOutput) {
    workflow.output = compiledOutput;
    workflow.outputSchema = outputSchemaOf(compiledOutput);
  }
  return { ok: true, workflow, problems: [] };
}
