/**
 * Lexer for the Go `text/template` subset used by composite-tool workflows.
 *
 * Produces a flat token list: `text` tokens for literal text and, for each action, the
 * tokens between `{{` and `}}` followed by a `right` token. Trim markers (`{{- ` and
 * ` -}}`) are applied here; comments (`{{/* … *\/}}`) produce no tokens.
 * @module
 */

/** Where in the template source something is (1-based line and column). */
export interface TemplatePosition {
  offset: number;
  line: number;
  column: number;
}

/** A template that cannot be parsed; carries the position of the problem. */
export class TemplateSyntaxError extends SyntaxError {
  readonly position: TemplatePosition;
  readonly detail: string;
  constructor(detail: string, position: TemplatePosition) {
    super(`template: ${position.line}:${position.column}: ${detail}`);
    this.name = "TemplateSyntaxError";
    this.detail = detail;
    this.position = position;
  }
}

export type TokenKind =
  | "text"
  | "left"
  | "right"
  | "pipe"
  | "lparen"
  | "rparen"
  | "comma"
  | "declare"
  | "assign"
  | "string"
  | "number"
  | "identifier"
  | "field"
  | "variable"
  | "dot";

export interface Token {
  kind: TokenKind;
  /** Offset of the token in the source. */
  pos: number;
  /** Source text of the token (for messages). */
  raw: string;
  /** Decoded value: text, string literal, number, identifier or variable name. */
  value?: string | number;
  /** Field path for `field` and `variable` tokens (`.a.b` → ["a", "b"]). */
  path?: string[];
  /** Whether whitespace separated this token from the previous one. */
  spaceBefore?: boolean;
}

/** Converts an offset into a 1-based line/column position. */
export function positionOf(src: string, offset: number): TemplatePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < src.length; i++) {
    if (src[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isIdentStart = (c: string | undefined) => c !== undefined && /[A-Za-z_]/.test(c);
const isIdentChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

const NUMBER =
  /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][+-]?[0-9]+)?)/;

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

/** Splits template source into tokens; throws `TemplateSyntaxError` on bad input. */
export function lex(src: string): Token[] {
  const tokens: Token[] = [];
  const fail = (msg: string, at: number): never => {
    throw new TemplateSyntaxError(msg, positionOf(src, at));
  };
  let i = 0;
  let trimNextText = false;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, "");
    trimNextText = false;
    if (open < 0) {
      if (text) tokens.push({ kind: "text", pos: i, raw: text, value: text });
      break;
    }
    let p = open + 2;
    if (src[p] === "-" && isSpace(src[p + 1])) {
      text = text.replace(/[ \t\r\n]+$/, "");
      p += 2;
    }
    if (text) tokens.push({ kind: "text", pos: i, raw: text, value: text });
    // Comment action: {{/* ... */}}
    let q = p;
    while (isSpace(src[q])) q++;
    if (src.startsWith("/*", q)) {
      const end = src.indexOf("*/", q + 2);
      if (end < 0) fail("unclosed comment", q);
      let r = end + 2;
      while (isSpace(src[r])) r++;
      if (src[r] === "-" && src.startsWith("}}", r + 1) && r > end + 2) {
        trimNextText = true;
        r += 1;
      }
      if (!src.startsWith("}}", r)) fail("comment ends before closing delimiter", end);
      i = r + 2;
      continue;
    }
    tokens.push({ kind: "left", pos: open, raw: "{{" });
    i = lexAction(src, p, tokens, fail, (trim) => (trimNextText = trim));
  }
  return tokens;
}

function lexAction(
  src: string,
  start: number,
  tokens: Token[],
  fail: (msg: string, at: number) => never,
  setTrim: (trim: boolean) => void,
): number {
  let i = start;
  let space = false;
  const push = (t: Token) => {
    tokens.push({ ...t, spaceBefore: space });
    space = false;
  };
  for (;;) {
    const c = src[i];
    if (c === undefined) fail("unclosed action", start);
    if (isSpace(c)) {
      let j = i;
      while (isSpace(src[j])) j++;
      if (src[j] === "-" && src.startsWith("}}", j + 1)) {
        setTrim(true);
        tokens.push({ kind: "right", pos: j, raw: "}}" });
        return j + 3;
      }
      space = true;
      i = j;
      continue;
    }
    if (src.startsWith("}}", i)) {
      setTrim(false);
      tokens.push({ kind: "right", pos: i, raw: "}}" });
      return i + 2;
    }
    if (c === "|") push({ kind: "pipe", pos: i++, raw: "|" });
    else if (c === "(") push({ kind: "lparen", pos: i++, raw: "(" });
    else if (c === ")") push({ kind: "rparen", pos: i++, raw: ")" });
    else if (c === ",") push({ kind: "comma", pos: i++, raw: "," });
    else if (c === ":" && src[i + 1] === "=") {
      push({ kind: "declare", pos: i, raw: ":=" });
      i += 2;
    } else if (c === "=") push({ kind: "assign", pos: i++, raw: "=" });
    else if (c === '"') i = lexQuoted(src, i, push, fail);
    else if (c === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) fail("unterminated raw quoted string", i);
      push({ kind: "string", pos: i, raw: src.slice(i, end + 1), value: src.slice(i + 1, end) });
      i = end + 1;
    } else if (c === "'") {
      const end = src.indexOf("'", i + 1);
      const lit = src.slice(i, end < 0 ? i + 1 : end + 1);
      fail(
        `single quotes do not delimit strings in templates: use double quotes instead of ${lit}`,
        i,
      );
    } else if (c === "$") {
      let j = i + 1;
      while (isIdentChar(src[j])) j++;
      const name = src.slice(i, j);
      const { path, end } = lexPath(src, j);
      push({ kind: "variable", pos: i, raw: src.slice(i, end), value: name, path });
      i = end;
    } else if (c === "." && isIdentStart(src[i + 1])) {
      const { path, end } = lexPath(src, i);
      push({ kind: "field", pos: i, raw: src.slice(i, end), path });
      i = end;
    } else if (isDigit(c) || ((c === "+" || c === "-" || c === ".") && isDigit(src[i + 1]))) {
      const m = NUMBER.exec(src.slice(i));
      const raw = m?.[0] ?? "";
      const n = Number(raw.replaceAll("_", "").replace(/^\+/, ""));
      if (!m || Number.isNaN(n) || isIdentChar(src[i + raw.length])) {
        fail(`bad number syntax: ${src.slice(i, i + raw.length + 1)}`, i);
      }
      push({ kind: "number", pos: i, raw, value: n });
      i += raw.length;
    } else if (c === ".") push({ kind: "dot", pos: i++, raw: "." });
    else if (isIdentStart(c)) {
      let j = i;
      while (isIdentChar(src[j])) j++;
      const word = src.slice(i, j);
      push({ kind: "identifier", pos: i, raw: word, value: word });
      i = j;
    } else fail(`unexpected ${JSON.stringify(c)} in action`, i);
  }
}

/** Lexes `.a.b-c.d` starting at a `.`; field names may contain `-` between word chars. */
function lexPath(src: string, start: number): { path: string[]; end: number } {
  const path: string[] = [];
  let i = start;
  while (src[i] === "." && isIdentStart(src[i + 1])) {
    let j = i + 1;
    while (isIdentChar(src[j]) || (src[j] === "-" && isIdentChar(src[j + 1]))) j++;
    path.push(src.slice(i + 1, j));
    i = j;
  }
  return { path, end: i };
}

function lexQuoted(
  src: string,
  start: number,
  push: (t: Token) => void,
  fail: (msg: string, at: number) => never,
): number {
  let out = "";
  let i = start + 1;
  for (;;) {
    const c = src[i];
    if (c === undefined || c === "\n") fail("unterminated quoted string", start);
    if (c === '"') break;
    if (c === "\\") {
      const e = src[i + 1];
      if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
        continue;
      }
      const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
      if (hex) {
        const digits = src.slice(i + 2, i + 2 + hex);
        if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== hex) {
          fail(`invalid escape \\${e}${digits} in quoted string`, i);
        }
        out += String.fromCodePoint(parseInt(digits, 16));
        i += 2 + hex;
        continue;
      }
      fail(`unknown escape sequence \\${e ?? ""} in quoted string`, i);
    }
    out += c;
    i++;
  }
  push({ kind: "string", pos: start, raw: src.slice(start, i + 1), value: out });
  return i + 1;
}
