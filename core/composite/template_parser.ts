/**
 * Parser for the Go `text/template` subset: builds an AST from `lex` tokens.
 *
 * Supported: text, `{{pipeline}}`, `{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`,
 * `{{range}}` and `{{with}}` (with `{{else}}`), variables (`$x := …`, `$x = …`,
 * `$i, $v := range …`), parenthesised pipelines, field chains on `.`, `$x` and `(…)`,
 * string/raw-string/number/bool/nil literals. Function names are checked against the
 * function table and their argument counts at parse time.
 * @module
 */

import { lex, positionOf, TemplateSyntaxError, type Token } from "./template_lexer.ts";
import { FUNCTION_ARITY } from "./template_funcs.ts";

export type Operand =
  | { kind: "dot"; pos: number }
  | { kind: "field"; pos: number; path: string[] }
  | { kind: "variable"; pos: number; name: string; path: string[] }
  | { kind: "function"; pos: number; name: string }
  | { kind: "literal"; pos: number; value: string | number | boolean | null }
  | { kind: "group"; pos: number; pipe: Pipeline; path: string[] };

export interface Command {
  pos: number;
  args: Operand[];
}

export interface Pipeline {
  pos: number;
  /** Variables declared (`:=`) or assigned (`=`) by this pipeline. */
  decl: string[];
  assign: boolean;
  cmds: Command[];
}

/** `{{if}}`, `{{with}}` or `{{range}}` with its body and optional `{{else}}` branch. */
export interface ControlNode {
  kind: "if" | "with" | "range";
  pos: number;
  pipe: Pipeline;
  body: TemplateNode[];
  else?: TemplateNode[];
}

export type TemplateNode =
  | { kind: "text"; text: string }
  | { kind: "action"; pos: number; pipe: Pipeline }
  | ControlNode;

const CONTROL = new Set(["if", "range", "with", "else", "end"]);
const UNSUPPORTED = new Set(["define", "template", "block", "break", "continue"]);

/** Parses template source into a node list; throws `TemplateSyntaxError`. */
export function parseNodes(src: string): TemplateNode[] {
  return new Parser(src, lex(src)).parseAll();
}

class Parser {
  #i = 0;
  #vars: string[] = ["$"];
  constructor(readonly src: string, readonly toks: Token[]) {}

  fail(msg: string, pos: number): never {
    throw new TemplateSyntaxError(msg, positionOf(this.src, pos));
  }
  peek(): Token | undefined {
    return this.toks[this.#i];
  }
  next(): Token {
    const t = this.toks[this.#i++];
    if (!t) this.fail("unexpected end of template", this.src.length);
    return t;
  }
  expect(kind: Token["kind"], context: string): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(`unexpected ${describe(t)} in ${context}`, t.pos);
    return t;
  }

  parseAll(): TemplateNode[] {
    const { nodes, stop } = this.parseList();
    if (stop) this.fail(`unexpected {{${stop.word}}}`, stop.pos);
    return nodes;
  }

  /** Parses nodes until EOF or a `{{else…}}`/`{{end}}` (returned as `stop`, consumed up to the keyword). */
  parseList(): { nodes: TemplateNode[]; stop?: { word: "else" | "end"; pos: number } } {
    const nodes: TemplateNode[] = [];
    for (;;) {
      const t = this.peek();
      if (!t) return { nodes };
      this.#i++;
      if (t.kind === "text") {
        nodes.push({ kind: "text", text: String(t.value) });
        continue;
      }
      // t is "left"
      const head = this.peek();
      if (!head || head.kind === "right") this.fail("missing value for command", t.pos);
      if (head.kind === "identifier" && CONTROL.has(String(head.value))) {
        this.#i++;
        const word = String(head.value);
        if (word === "else" || word === "end") return { nodes, stop: { word, pos: head.pos } };
        nodes.push(this.parseControl(word as "if" | "range" | "with", head.pos));
        continue;
      }
      if (head.kind === "identifier" && UNSUPPORTED.has(String(head.value))) {
        this.fail(`{{${head.value}}} is not supported in workflow templates`, head.pos);
      }
      const pipe = this.parsePipeline("command", false);
      this.expect("right", "command");
      nodes.push({ kind: "action", pos: head.pos, pipe });
    }
  }

  parseControl(word: "if" | "range" | "with", pos: number): TemplateNode {
    const scope = this.#vars.length;
    const pipe = this.parsePipeline(word, word === "range");
    this.expect("right", word);
    const first = this.parseList();
    const node: TemplateNode = { kind: word, pos, pipe, body: first.nodes };
    if (!first.stop) this.fail(`unexpected EOF: {{${word}}} has no matching {{end}}`, pos);
    if (first.stop.word === "else") {
      const t = this.peek();
      if (word === "if" && t?.kind === "identifier" && t.value === "if") {
        // {{else if …}} is sugar for {{else}}{{if …}}…{{end}}{{end}} sharing one {{end}}.
        this.#i++;
        node.else = [this.parseControl("if", t.pos)];
      } else {
        this.expect("right", "else");
        const second = this.parseList();
        if (second.stop?.word !== "end") {
          this.fail(
            second.stop ? "expected {{end}} after {{else}} branch" : `{{${word}}} has no {{end}}`,
            second.stop?.pos ?? pos,
          );
        }
        this.expect("right", "end");
        node.else = second.nodes;
      }
    } else this.expect("right", "end");
    this.#vars.length = scope;
    return node;
  }

  parsePipeline(context: string, allowTwoVars: boolean): Pipeline {
    const start = this.peek();
    const pipe: Pipeline = {
      pos: start?.pos ?? this.src.length,
      decl: [],
      assign: false,
      cmds: [],
    };
    // Declarations: $x := / $x = / $i, $v :=
    const save = this.#i;
    const a = this.peek();
    if (a?.kind === "variable" && a.path?.length === 0) {
      this.#i++;
      const b = this.peek();
      if (b?.kind === "declare" || b?.kind === "assign") {
        this.#i++;
        pipe.decl = [String(a.value)];
        pipe.assign = b.kind === "assign";
      } else if (b?.kind === "comma" && allowTwoVars) {
        this.#i++;
        const c = this.expect("variable", "range declaration");
        this.expect("declare", "range declaration");
        pipe.decl = [String(a.value), String(c.value)];
      } else this.#i = save;
    }
    for (const name of pipe.decl) {
      if (pipe.assign && !this.#vars.includes(name)) {
        this.fail(`undefined variable "${name}"`, a!.pos);
      }
    }
    for (;;) {
      const t = this.peek();
      if (!t || t.kind === "right" || t.kind === "rparen") break;
      pipe.cmds.push(this.parseCommand(pipe.cmds.length > 0));
      const sep = this.peek();
      if (sep?.kind === "pipe") {
        this.#i++;
        continue;
      }
      break;
    }
    if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, pipe.pos);
    if (!pipe.assign) this.#vars.push(...pipe.decl);
    return pipe;
  }

  parseCommand(piped: boolean): Command {
    const first = this.peek()!;
    const cmd: Command = { pos: first.pos, args: [] };
    for (;;) {
      const t = this.peek();
      if (!t || t.kind === "right" || t.kind === "rparen" || t.kind === "pipe") break;
      if (cmd.args.length > 0 && !t.spaceBefore && t.kind !== "lparen") {
        this.fail(`missing space before ${describe(t)}`, t.pos);
      }
      cmd.args.push(this.parseOperand());
    }
    if (cmd.args.length === 0) this.fail("empty command", first.pos);
    const head = cmd.args[0]!;
    for (const arg of cmd.args.slice(1)) {
      if (arg.kind === "function" && FUNCTION_ARITY[arg.name]![0] > 0) {
        this.fail(
          `function ${arg.name} used as an argument needs parentheses: (${arg.name} …)`,
          arg.pos,
        );
      }
    }
    if (head.kind === "function") {
      const arity = FUNCTION_ARITY[head.name]!;
      const n = cmd.args.length - 1 + (piped ? 1 : 0);
      if (n < arity[0] || n > arity[1]) {
        const want = arity[1] === Infinity
          ? `at least ${arity[0]}`
          : arity[0] === arity[1]
          ? `${arity[0]}`
          : `${arity[0]} to ${arity[1]}`;
        this.fail(`wrong number of args for ${head.name}: want ${want} got ${n}`, head.pos);
      }
    } else if (cmd.args.length > 1) {
      this.fail(`can't give argument to non-function ${this.operandText(head)}`, cmd.args[1]!.pos);
    } else if (piped) {
      this.fail(`can't pipe into non-function ${this.operandText(head)}`, head.pos);
    } else if (head.kind === "literal" && head.value === null) {
      this.fail("nil is not a command", head.pos);
    }
    return cmd;
  }

  operandText(o: Operand): string {
    if (o.kind === "field") return "." + o.path.join(".");
    if (o.kind === "variable") return [o.name, ...o.path].join(".");
    if (o.kind === "literal") return JSON.stringify(o.value);
    return o.kind;
  }

  parseOperand(): Operand {
    const t = this.next();
    switch (t.kind) {
      case "dot":
        return { kind: "dot", pos: t.pos };
      case "field":
        return { kind: "field", pos: t.pos, path: t.path! };
      case "variable": {
        const name = String(t.value);
        if (!this.#vars.includes(name)) this.fail(`undefined variable "${name}"`, t.pos);
        return { kind: "variable", pos: t.pos, name, path: t.path! };
      }
      case "string":
        return { kind: "literal", pos: t.pos, value: String(t.value) };
      case "number":
        return { kind: "literal", pos: t.pos, value: Number(t.value) };
      case "lparen": {
        const pipe = this.parsePipeline("parenthesized pipeline", false);
        this.expect("rparen", "parenthesized pipeline");
        const after = this.peek();
        let path: string[] = [];
        if (after?.kind === "field" && !after.spaceBefore) {
          this.#i++;
          path = after.path!;
        }
        return { kind: "group", pos: t.pos, pipe, path };
      }
      case "identifier": {
        const word = String(t.value);
        if (word === "true" || word === "false") {
          return { kind: "literal", pos: t.pos, value: word === "true" };
        }
        if (word === "nil") return { kind: "literal", pos: t.pos, value: null };
        if (CONTROL.has(word)) this.fail(`unexpected keyword ${word} in operand`, t.pos);
        if (!(word in FUNCTION_ARITY)) {
          this.fail(
            `function "${word}" not defined (available: ${Object.keys(FUNCTION_ARITY).join(", ")})`,
            t.pos,
          );
        }
        return { kind: "function", pos: t.pos, name: word };
      }
      default:
        return this.fail(`unexpected ${describe(t)} in operand`, t.pos);
    }
  }
}

function describe(t: Token): string {
  if (t.kind === "right") return '"}}"';
  if (t.kind === "left") return '"{{"';
  return JSON.stringify(t.raw);
}
