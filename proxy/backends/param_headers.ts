/**
 * `Mcp-Param-*` headers of a `tools/call` to a modern backend (MCP 2026-07-28, SEP-2243): a tool
 * whose `inputSchema` marks a primitive property with `x-mcp-header: "Name"` expects the
 * argument's value in the header `Mcp-Param-Name` too. vmcp computes them from the call's
 * arguments (never copies a client's), from the tool's schema as the backend listed it.
 * @module
 */
import { headerValue } from "./modern_wire.ts";

type AnyObject = Record<string, unknown>;

/** One `x-mcp-header` declaration: where the argument is and the header's name. */
export interface ParamHeader {
  path: string[];
  name: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PRIMITIVE = new Set(["string", "integer", "boolean"]);
/** Declarations deeper than this are ignored (a schema is the backend's input). */
const MAX_DEPTH = 16;

/**
 * The declarations reachable through a chain of `properties` keys. Declarations elsewhere, of
 * a non-primitive type or with a name that is no HTTP token, make the tool invalid by the spec;
 * they are skipped here (the backend refuses such calls itself).
 */
export function scanParamHeaders(inputSchema: unknown): ParamHeader[] {
  const out: ParamHeader[] = [];
  const visit = (node: unknown, path: string[]) => {
    if (node === null || typeof node !== "object" || path.length > MAX_DEPTH) return;
    const schema = node as AnyObject;
    const name = schema["x-mcp-header"];
    if (
      path.length > 0 && typeof name === "string" && TOKEN.test(name) &&
      typeof schema.type === "string" && PRIMITIVE.has(schema.type)
    ) out.push({ path, name });
    const props = schema.properties;
    if (props !== null && typeof props === "object" && !Array.isArray(props)) {
      for (const [key, child] of Object.entries(props as AnyObject)) visit(child, [...path, key]);
    }
  };
  visit(inputSchema, []);
  return out;
}

/** The headers for `args` (a declaration whose value is absent or not primitive is omitted). */
export function paramHeaders(decls: ParamHeader[], args: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of decls) {
    let v: unknown = args;
    for (const k of d.path) {
      v = v !== null && typeof v === "object" ? (v as AnyObject)[k] : undefined;
    }
    let s: string | undefined;
    if (typeof v === "string") s = v;
    else if (typeof v === "boolean") s = String(v);
    else if (typeof v === "number" && Number.isFinite(v) && Number.isSafeInteger(Math.trunc(v))) {
      s = String(v);
    }
    if (s !== undefined) out[`mcp-param-${d.name.toLowerCase()}`] = headerValue(s);
  }
  return out;
}
