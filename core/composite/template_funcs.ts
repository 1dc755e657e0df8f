/**
 * Values and functions of the workflow template language.
 *
 * Values are JSON-like: `undefined` (Go's "no value"), `null` (nil), booleans, numbers,
 * strings, arrays and plain objects. Deliberate differences from Go: numbers print as
 * JavaScript does (`1000000`, not `1e+06`), integers and floats compare equal by value
 * (`eq 10 10.0`), and objects/arrays print as JSON instead of `map[…]`/`[…]`.
 * @module
 */

/** A template that fails while rendering (bad types, bad index, bad JSON). */
export class TemplateExecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TemplateExecError";
  }
}

/** A type name for messages. */
export function typeName(v: unknown): string {
  if (v === undefined) return "no value";
  if (v === null) return "nil";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** Go's `truth`: false, 0, "", nil, no value and empty arrays/objects are false. */
export function isTruthy(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** How a value prints in template output. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number") return Object.is(v, -0) ? "0" : String(v);
  if (typeof v === "boolean") return String(v);
  return JSON.stringify(v) ?? "<no value>";
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a == null || b == null) return (a ?? null) === (b ?? null);
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b as object, k) &&
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateExecError(
    `${name}: incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`,
  );
}

/** `index x k1 k2 …`: map keys give no value when missing; array indexes must be in range. */
function indexFn(x: unknown, ...keys: unknown[]): unknown {
  let cur = x;
  for (const k of keys) {
    if (cur === undefined || cur === null) return undefined;
    if (Array.isArray(cur) || typeof cur === "string") {
      if (typeof k !== "number" || !Number.isInteger(k)) {
        throw new TemplateExecError(`index: cannot index ${typeName(cur)} with ${typeName(k)}`);
      }
      if (k < 0 || k >= cur.length) {
        throw new TemplateExecError(`index: index out of range: ${k} (length ${cur.length})`);
      }
      cur = typeof cur === "string" ? cur.charCodeAt(k) : cur[k];
    } else if (typeof cur === "object") {
      const key = typeof k === "string" ? k : formatValue(k);
      cur = Object.hasOwn(cur, key) ? (cur as Record<string, unknown>)[key] : undefined;
    } else throw new TemplateExecError(`index: can't index item of type ${typeName(cur)}`);
  }
  return cur;
}

function lenFn(x: unknown): number {
  if (typeof x === "string") return new TextEncoder().encode(x).length;
  if (Array.isArray(x)) return x.length;
  if (x !== null && typeof x === "object") return Object.keys(x).length;
  throw new TemplateExecError(`len of type ${typeName(x)}`);
}

function sprint(args: unknown[], spaces: "between-non-strings" | "always"): string {
  let out = "";
  args.forEach((a, i) => {
    const prev = args[i - 1];
    if (
      i > 0 && (spaces === "always" || (typeof a !== "string" && typeof prev !== "string"))
    ) out += " ";
    out += formatValue(a);
  });
  return out;
}

function pad(s: string, width: number | undefined, flags: string): string {
  if (width === undefined || s.length >= width) return s;
  if (flags.includes("-")) return s.padEnd(width);
  if (flags.includes("0")) {
    const sign = /^[+-]/.test(s) ? s[0]! : "";
    return sign + s.slice(sign.length).padStart(width - sign.length, "0");
  }
  return s.padStart(width);
}

function goExp(s: string): string {
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Go's `printf` for the common verbs: %v %s %d %f %e %g %t %q %x %X %%. */
export function printf(format: string, ...args: unknown[]): string {
  let out = "";
  let argi = 0;
  const re = /%([-+ 0#]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g;
  let last = 0;
  for (const m of format.matchAll(re)) {
    out += format.slice(last, m.index);
    last = m.index + m[0].length;
    const [, flags = "", w, p, verb = "v"] = m;
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    const width = w === undefined ? undefined : Number(w);
    const prec = p === undefined ? undefined : Number(p);
    const bad = () => `%!${verb}(${typeName(a)}=${formatValue(a)})`;
    const sign = (n: number, s: string) => (flags.includes("+") && n >= 0 ? "+" + s : s);
    let s: string;
    switch (verb) {
      case "v":
      case "s":
        s = formatValue(a);
        if (prec !== undefined) s = s.slice(0, prec);
        break;
      case "d":
        s = typeof a === "number" && Number.isInteger(a) ? sign(a, String(a)) : bad();
        break;
      case "f":
      case "F":
        s = typeof a === "number" ? sign(a, a.toFixed(prec ?? 6)) : bad();
        break;
      case "e":
        s = typeof a === "number" ? sign(a, goExp(a.toExponential(prec ?? 6))) : bad();
        break;
      case "g":
        s = typeof a === "number"
          ? sign(a, prec === undefined ? String(a) : String(Number(a.toPrecision(prec))))
          : bad();
        break;
      case "t":
        s = typeof a === "boolean" ? String(a) : bad();
        break;
      case "q":
        s = typeof a === "string" ? JSON.stringify(a) : bad();
        break;
      case "x":
      case "X": {
        if (typeof a === "number" && Number.isInteger(a)) s = a.toString(16);
        else if (typeof a === "string") {
          s = [...new TextEncoder().encode(a)].map((b) => b.toString(16).padStart(2, "0")).join(
            "",
          );
        } else s = bad();
        if (verb === "X") s = s.toUpperCase();
        break;
      }
      default:
        s = bad();
    }
    out += pad(s, width, flags);
  }
  out += format.slice(last);
  if (argi < args.length) {
    out += "%!(EXTRA " + args.slice(argi).map((a) => `${typeName(a)}=${formatValue(a)}`).join(
      ", ",
    ) + ")";
  }
  return out;
}

type Fn = (...args: unknown[]) => unknown;

/** Functions other than `and`/`or` (which the evaluator runs lazily). */
export const FUNCTIONS: Record<string, Fn> = {
  not: (a) => !isTruthy(a),
  eq: (a, ...bs) => bs.some((b) => deepEqual(a, b)),
  ne: (a, b) => !deepEqual(a, b),
  lt: (a, b) => compare("lt", a, b) < 0,
  le: (a, b) => compare("le", a, b) <= 0,
  gt: (a, b) => compare("gt", a, b) > 0,
  ge: (a, b) => compare("ge", a, b) >= 0,
  index: indexFn,
  len: lenFn,
  printf: (f, ...rest) => {
    if (typeof f !== "string") {
      throw new TemplateExecError(`printf: format must be a string, got ${typeName(f)}`);
    }
    return printf(f, ...rest);
  },
  print: (...args) => sprint(args, "between-non-strings"),
  println: (...args) => sprint(args, "always") + "\n",
  json: (v) => JSON.stringify(v ?? null),
  quote: (v) => JSON.stringify(typeof v === "string" ? v : formatValue(v)),
  fromJson: (s) => {
    if (typeof s !== "string") {
      throw new TemplateExecError(`fromJson: expected a string, got ${typeName(s)}`);
    }
    try {
      return JSON.parse(s);
    } catch (e) {
      throw new TemplateExecError(
        `fromJson: invalid JSON ${JSON.stringify(s.slice(0, 80))}: ${(e as Error).message}`,
      );
    }
  },
};

/** Minimum and maximum argument counts per function (checked at parse time). */
export const FUNCTION_ARITY: Record<string, [number, number]> = {
  and: [1, Infinity],
  or: [1, Infinity],
  not: [1, 1],
  eq: [2, Infinity],
  ne: [2, 2],
  lt: [2, 2],
  le: [2, 2],
  gt: [2, 2],
  ge: [2, 2],
  index: [1, Infinity],
  len: [1, 1],
  printf: [1, Infinity],
  print: [0, Infinity],
  println: [0, Infinity],
  json: [1, 1],
  quote: [1, 1],
  fromJson: [1, 1],
};
