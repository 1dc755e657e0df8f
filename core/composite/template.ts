/**
 * Workflow templates: a Go `text/template` compatible subset, parsed once at config time
 * and rendered per call. No `eval`, no dependencies.
 *
 * @example Parse once, render many times
 * ```ts
 * import { parseTemplate, renderTemplate, evaluateTemplate } from "./template.ts";
 * const t = parseTemplate('{{if gt .params.n 1}}many{{else}}one{{end}}');
 * renderTemplate(t, { params: { n: 3 } }); // "many"
 * evaluateTemplate(parseTemplate("{{.params.n}}"), { params: { n: 3 } }); // 3 (a number)
 * ```
 * @module
 */

import { positionOf, TemplateSyntaxError } from "./template_lexer.ts";
import {
  type Command,
  type ControlNode,
  type Operand,
  parseNodes,
  type Pipeline,
  type TemplateNode,
} from "./template_parser.ts";
import { formatValue, FUNCTIONS, isTruthy, TemplateExecError, typeName } from "./template_funcs.ts";

export { TemplateExecError, TemplateSyntaxError };
export type { TemplatePosition } from "./template_lexer.ts";

/** Maximum rendered size of one template (10 MB, as upstream). */
export const MAX_TEMPLATE_OUTPUT = 10 * 1024 * 1024;

/** A parsed template. */
export interface Template {
  readonly source: string;
  readonly nodes: readonly TemplateNode[];
  /** True when the source is exactly one `{{pipeline}}` action: `evaluateTemplate` keeps its type. */
  readonly singleAction: boolean;
}

/**
 * Parses template source.
 * @throws {TemplateSyntaxError} with `position` (line, column, offset) and `detail`
 */
export function parseTemplate(source: string): Template {
  const nodes = parseNodes(source);
  const only = nodes.length === 1 ? nodes[0] : undefined;
  const singleAction = only?.kind === "action" && only.pipe.decl.length === 0;
  return { source, nodes, singleAction };
}

/** True when `text` contains template actions at all (plain strings skip templating). */
export function hasActions(text: string): boolean {
  return text.includes("{{");
}

/**
 * Renders a template to a string.
 * @throws {TemplateExecError} naming the position and the problem
 */
export function renderTemplate(t: Template, data: unknown): string {
  const ex = new Exec(t.source, data);
  ex.walk(t.nodes, data);
  return ex.out.join("");
}

/**
 * Evaluates a template keeping the value's type when the template is exactly one action
 * (`"{{.params.count}}"` → `3`); otherwise renders it to a string. A single action whose
 * value is missing yields `undefined`.
 */
export function evaluateTemplate(t: Template, data: unknown): unknown {
  if (!t.singleAction) return renderTemplate(t, data);
  const node = t.nodes[0] as Extract<TemplateNode, { kind: "action" }>;
  return new Exec(t.source, data).pipeline(node.pipe, data);
}

/**
 * Field paths read from the root data: `.steps.a.output.x` and `$.steps.a…` give
 * `["steps","a","output","x"]`; also `index .steps "a" …` with literal keys. Used by
 * validation to find step references.
 */
export function rootFieldPaths(t: Template): string[][] {
  const paths: string[][] = [];
  const fromPipe = (p: Pipeline, rootDot: boolean) => {
    for (const c of p.cmds) {
      const [head, ...rest] = c.args;
      let skip: Operand | undefined;
      if (head?.kind === "function" && head.name === "index") {
        const base = rest[0];
        const keys = rest.slice(1);
        const basePath = base?.kind === "field" && rootDot
          ? base.path
          : base?.kind === "variable" && base.name === "$"
          ? base.path
          : undefined;
        if (basePath) {
          const lits: string[] = [];
          for (const k of keys) {
            if (k.kind !== "literal" || typeof k.value !== "string") break;
            lits.push(k.value);
          }
          paths.push([...basePath, ...lits]);
          skip = base;
        }
      }
      for (const a of c.args) if (a !== skip) fromOperand(a, rootDot);
    }
  };
  const fromOperand = (o: Operand, rootDot: boolean) => {
    if (o.kind === "field" && rootDot) paths.push(o.path);
    if (o.kind === "variable" && o.name === "$") paths.push(o.path);
    if (o.kind === "group") fromPipe(o.pipe, rootDot);
  };
  const walk = (nodes: readonly TemplateNode[], rootDot: boolean) => {
    for (const n of nodes) {
      if (n.kind === "action") fromPipe(n.pipe, rootDot);
      else if (n.kind !== "text") {
        fromPipe(n.pipe, rootDot);
        walk(n.body, rootDot && n.kind === "if");
        if (n.else) walk(n.else, rootDot);
      }
    }
  };
  walk(t.nodes, true);
  return paths;
}

const NONE = Symbol("none");

class Exec {
  out: string[] = [];
  #size = 0;
  #vars: { name: string; value: unknown }[];
  constructor(readonly src: string, root: unknown) {
    this.#vars = [{ name: "$", value: root }];
  }

  fail(e: unknown, pos: number): never {
    const p = positionOf(this.src, pos);
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof TemplateExecError && msg.startsWith("template: ")) throw e;
    throw new TemplateExecError(`template: ${p.line}:${p.column}: ${msg}`, { cause: e });
  }

  emit(s: string) {
    this.#size += s.length;
    if (this.#size > MAX_TEMPLATE_OUTPUT) {
      throw new TemplateExecError(`template output exceeds ${MAX_TEMPLATE_OUTPUT} bytes`);
    }
    this.out.push(s);
  }

  walk(nodes: readonly TemplateNode[], dot: unknown): void {
    for (const n of nodes) {
      if (n.kind === "text") this.emit(n.text);
      else if (n.kind === "action") {
        const v = this.pipeline(n.pipe, dot);
        if (n.pipe.decl.length === 0) this.emit(formatValue(v));
      } else {
        const mark = this.#vars.length;
        if (n.kind === "range") this.range(n, dot);
        else {
          const v = this.pipeline(n.pipe, dot);
          if (isTruthy(v)) this.walk(n.body, n.kind === "with" ? v : dot);
          else if (n.else) this.walk(n.else, dot);
        }
        this.#vars.length = mark;
      }
    }
  }

  range(n: ControlNode, dot: unknown): void {
    const decl = n.pipe.decl;
    const v = this.pipeline({ ...n.pipe, decl: [] }, dot);
    let entries: [unknown, unknown][];
    if (v === undefined || v === null) entries = [];
    else if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (typeof v === "number" && Number.isInteger(v)) {
      entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    } else if (typeof v === "object") {
      entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
    } else this.fail(new TemplateExecError(`range can't iterate over ${typeName(v)}`), n.pos);
    if (entries.length === 0) {
      if (n.else) this.walk(n.else, dot);
      return;
    }
    const mark = this.#vars.length;
    for (const [k, x] of entries) {
      this.#vars.length = mark;
      if (decl.length === 1) this.#vars.push({ name: decl[0]!, value: x });
      if (decl.length === 2) {
        this.#vars.push({ name: decl[0]!, value: k }, { name: decl[1]!, value: x });
      }
      this.walk(n.body, x);
    }
  }

  pipeline(p: Pipeline, dot: unknown): unknown {
    let v: unknown = NONE;
    for (const c of p.cmds) v = this.command(c, dot, v);
    for (const name of p.decl) {
      if (p.assign) {
        const slot = this.#vars.findLast((x) => x.name === name);
        if (slot) slot.value = v;
      } else this.#vars.push({ name, value: v });
    }
    return v;
  }

  command(c: Command, dot: unknown, piped: unknown): unknown {
    const [head, ...rest] = c.args;
    if (head?.kind !== "function") return this.operand(head!, dot);
    const thunks = rest.map((a) => () => this.operand(a, dot));
    if (piped !== NONE) thunks.push(() => piped);
    if (head.name === "and" || head.name === "or") {
      let v: unknown;
      for (const th of thunks) {
        v = th();
        if (isTruthy(v) === (head.name === "or")) return v;
      }
      return v;
    }
    try {
      return FUNCTIONS[head.name]!(...thunks.map((th) => th()));
    } catch (e) {
      this.fail(e, head.pos);
    }
  }

  operand(o: Operand, dot: unknown): unknown {
    switch (o.kind) {
      case "dot":
        return dot;
      case "literal":
        return o.value;
      case "field":
        return this.field(dot, o.path, o.pos);
      case "variable": {
        const slot = this.#vars.findLast((x) => x.name === o.name);
        return this.field(slot?.value, o.path, o.pos);
      }
      case "group":
        return this.field(this.pipeline(o.pipe, dot), o.path, o.pos);
      case "function":
        return this.command({ pos: o.pos, args: [o] }, dot, NONE);
    }
  }

  field(v: unknown, path: string[], pos: number): unknown {
    let cur = v;
    for (const key of path) {
      if (cur === undefined || cur === null) return undefined;
      if (typeof cur !== "object" || Array.isArray(cur)) {
        this.fail(
          new TemplateExecError(`can't evaluate field ${key} in type ${typeName(cur)}`),
          pos,
        );
      }
      cur = Object.hasOwn(cur, key) ? (cur as Record<string, unknown>)[key] : undefined;
    }
    return cur;
  }
}
