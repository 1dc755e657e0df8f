/**
 * `Mcp-Param-*` headers at the front door (MCP 2026-07-28, SEP-2243;
 * docs/adr/0010-mcp-2026-07-28-both-eras.md, section 2). A tool whose `inputSchema` marks a
 * primitive property with `"x-mcp-header": "Name"` expects a modern client to send the argument's
 * value in the header `Mcp-Param-Name` too. For an advertised tool vmcp checks those headers
 * against `arguments` and answers a missing, undecodable or different one exactly as the v2
 * SDK's server does: HTTP 400, JSON-RPC -32020, `data.mismatch: {header, body}`. (A modern
 * backend gets headers vmcp computes itself, never the client's: proxy/backends/param_headers.ts.)
 *
 * - `scanXMcpHeaders` ports the SDK's `scanXMcpHeaderDeclarations` (internal in 2.4.0): a
 *   declaration must be reachable through a chain of `properties` keys, name a non-empty RFC 9110
 *   token unique regardless of case, and sit on a `string`, `integer` or `boolean` property. A
 *   `number` one is invalid too, yet still checked (as the SDK does).
 * - `checkParamHeaders` ports `validateMcpParamHeaders`: an argument that is absent or `null`
 *   needs no header; integers compare as numbers (`42.0` = `42`), everything else as the decoded
 *   string (the `=?base64?…?=` sentinel decoded; a bad sentinel is refused).
 * - `ModernTools` is the per-list-version index: built once for each version of the aggregated
 *   tool list (by array identity), it holds the declarations of the tools that have any and the
 *   invalid ones. A tool with an invalid declaration is left out of modern `tools/list` pages
 *   (conforming clients drop such tools anyway) and stays in legacy lists; it is warned about
 *   once while it stays invalid. A call to a tool without declarations costs a size check or one
 *   map lookup.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { Tool } from "../../core/sdk.ts";
import { jsonTextOf, withJsonText } from "../preserialized.ts";
import { decodeMcpName, HEADER_MISMATCH, rpcRefusal } from "./era.ts";

type AnyObject = Record<string, unknown>;

/** One `x-mcp-header` declaration: where the argument is, the header suffix, the JSON type. */
export interface XMcpHeader {
  path: string[];
  headerName: string;
  type: string | undefined;
}

/** A schema's declarations, or the first rule it breaks (with them when only `number` is). */
export type XMcpHeaderScan =
  | { valid: true; declarations: XMcpHeader[] }
  | { valid: false; reason: string; declarations?: XMcpHeader[] };

const KEY = "x-mcp-header";
const PREFIX = "Mcp-Param-";
const RFC9110_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PERMITTED_TYPES = new Set(["string", "integer", "boolean"]);
const CANONICAL_DECIMAL = /^-?\d+(\.\d+)?$/;
/** Where a declaration is not statically reachable (its presence there invalidates the tool). */
const NON_REACHABLE = [
  "items",
  "prefixItems",
  "contains",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "propertyNames",
  "patternProperties",
  "dependentSchemas",
  "oneOf",
  "anyOf",
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "$defs",
  "definitions",
];
/** Keywords whose value maps names to subschemas. */
const OBJECT_VALUED = new Set(["patternProperties", "dependentSchemas", "$defs", "definitions"]);
/** Schemas nested deeper than this are not walked further (a schema is a backend's input). */
const MAX_DEPTH = 64;

function pathName(path: string[]): string {
  return path.length === 0 ? "<root>" : path.join(".");
}

/** The `x-mcp-header` declarations of a tool's `inputSchema`, or why the tool is invalid. */
export function scanXMcpHeaders(inputSchema: unknown): XMcpHeaderScan {
  const declarations: XMcpHeader[] = [];
  const seenLower = new Map<string, string>();
  let numberFault: string | undefined;
  const visit = (node: unknown, path: string[], reachable: boolean): string | undefined => {
    if (node === null || typeof node !== "object" || path.length > MAX_DEPTH) return undefined;
    const schema = node as AnyObject;
    if (KEY in schema) {
      if (!reachable || path.length === 0) {
        return `${
          pathName(path)
        }: x-mcp-header is only permitted on properties statically reachable via a chain of 'properties' keys (not under items, additionalProperties, oneOf/anyOf/allOf/not, if/then/else, or $ref)`;
      }
      const raw = schema[KEY];
      if (typeof raw !== "string" || raw.length === 0) {
        return `${pathName(path)}: x-mcp-header MUST be a non-empty string`;
      }
      if (!RFC9110_TOKEN.test(raw)) {
        return `${
          pathName(path)
        }: x-mcp-header '${raw}' is not a valid RFC 9110 token (no spaces, control characters or HTTP delimiters)`;
      }
      const type = typeof schema.type === "string" ? schema.type : undefined;
      if (type === undefined || !PERMITTED_TYPES.has(type)) {
        const fault = `${
          pathName(path)
        }: x-mcp-header is only permitted on primitive-typed properties (string, integer, boolean); got ${
          type ?? "<none>"
        }`;
        if (type !== "number") return fault;
        numberFault ??= fault;
      }
      const lower = raw.toLowerCase();
      const prior = seenLower.get(lower);
      if (prior !== undefined) {
        return `x-mcp-header '${raw}' is not case-insensitively unique (also declared as '${prior}')`;
      }
      seenLower.set(lower, raw);
      declarations.push({ path, headerName: raw, type });
    }
    const properties = schema.properties;
    if (properties !== null && typeof properties === "object") {
      for (const [key, child] of Object.entries(properties)) {
        const fault = visit(child, [...path, key], reachable);
        if (fault !== undefined) return fault;
      }
    }
    for (const k of NON_REACHABLE) {
      const sub = schema[k];
      if (sub === undefined) continue;
      const branches = Array.isArray(sub)
        ? sub
        : sub !== null && typeof sub === "object" && OBJECT_VALUED.has(k)
        ? Object.values(sub)
        : [sub];
      for (const branch of branches) {
        const fault = visit(branch, [...path, `<${k}>`], false);
        if (fault !== undefined) return fault;
      }
    }
    return undefined;
  };
  const fault = visit(inputSchema, [], true);
  if (fault !== undefined) return { valid: false, reason: numberFault ?? fault };
  return numberFault === undefined
    ? { valid: true, declarations }
    : { valid: false, reason: numberFault, declarations };
}

/** A primitive argument as its header text (undefined: no header is expected for it). */
function primitiveText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) return undefined;
    return String(value);
  }
  return undefined;
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as AnyObject)[key];
  }
  return node;
}

function mismatch(header: string, body: string, id: unknown): Response {
  return rpcRefusal(
    400,
    HEADER_MISMATCH,
    `Bad Request: the request headers and body disagree: ${body}`,
    { mismatch: { header, body } },
    id,
  );
}

/**
 * The v2 SDK's answer when `headers` disagree with `args` for `declarations`, or undefined when
 * they agree. `id` is the request's (echoed in the answer).
 */
export function checkParamHeaders(
  declarations: readonly XMcpHeader[],
  args: unknown,
  headers: Headers,
  id: unknown,
): Response | undefined {
  for (const decl of declarations) {
    const header = `${PREFIX}${decl.headerName}`;
    const bodyRaw = valueAt(args, decl.path);
    if (bodyRaw === undefined || bodyRaw === null) continue;
    const bodyText = primitiveText(bodyRaw);
    if (bodyText === undefined) continue;
    const where = pathName(decl.path);
    const value = headers.get(header);
    if (value === null) {
      return mismatch(
        header,
        `the body carries ${where}=${JSON.stringify(bodyRaw)} but the ${header} header is absent`,
        id,
      );
    }
    const decoded = decodeMcpName(value);
    if (decoded === undefined) {
      return mismatch(header, `the ${header} header carries an invalid Base64 sentinel value`, id);
    }
    const numeric = (decl.type === "integer" || decl.type === "number") &&
      CANONICAL_DECIMAL.test(decoded) && typeof bodyRaw === "number";
    if (numeric ? Number(decoded) !== bodyRaw : decoded !== bodyText) {
      return mismatch(
        header,
        `the ${header} header decodes to ${JSON.stringify(decoded)} but the body carries ${where}=${
          JSON.stringify(bodyRaw)
        }`,
        id,
      );
    }
  }
  return undefined;
}

interface Index {
  /** The aggregated list this index was built from. */
  source: readonly Tool[];
  /** Advertised name → declarations, for the tools that have any. */
  declarations: Map<string, XMcpHeader[]>;
  /** Advertised name → why its declaration is invalid (left out of modern lists). */
  invalid: Map<string, string>;
  /** A page's JSON text → the text of the page without the invalid tools. */
  pages: Map<string, string>;
}

/** Filtered page texts kept per list version (any string is a valid cursor). */
const MAX_PAGES = 64;

/**
 * The `Mcp-Param-*` declarations of the advertised tools and what modern clients are listed,
 * per version of the aggregated tool list.
 */
export class ModernTools {
  readonly #log: Logger;
  #index: Index | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * The -32020 answer when a `tools/call` of an advertised tool carries `Mcp-Param-*` headers
   * that disagree with its `arguments`; undefined when they agree or the tool declares none.
   * `tools` is the aggregated list (`RouterState.lists.tools`).
   */
  check(
    tools: readonly Tool[],
    headers: Headers,
    req: { id: unknown; params: AnyObject },
  ): Response | undefined {
    const index = this.#of(tools);
    if (index.declarations.size === 0) return undefined;
    const name = req.params.name;
    if (typeof name !== "string") return undefined;
    const declarations = index.declarations.get(name);
    if (declarations === undefined) return undefined;
    return checkParamHeaders(declarations, req.params.arguments, headers, req.id);
  }

  /**
   * A `tools/list` page as modern clients see it: without the tools whose `x-mcp-header` is
   * invalid (the same page when there are none), carrying its JSON text.
   */
  page(tools: readonly Tool[], page: AnyObject): AnyObject {
    const index = this.#of(tools);
    const items = page.tools;
    if (index.invalid.size === 0 || !Array.isArray(items)) return page;
    const kept = items.filter((t) => !index.invalid.has((t as Tool).name));
    if (kept.length === items.length) return page;
    const out = { ...page, tools: kept };
    const source = jsonTextOf(page);
    let text = source === undefined ? undefined : index.pages.get(source);
    if (text === undefined) {
      text = JSON.stringify(out);
      if (source !== undefined && index.pages.size < MAX_PAGES) index.pages.set(source, text);
    }
    return withJsonText(out, text);
  }

  #of(tools: readonly Tool[]): Index {
    const current = this.#index;
    if (current?.source === tools) return current;
    const declarations = new Map<string, XMcpHeader[]>();
    const invalid = new Map<string, string>();
    for (const tool of tools) {
      const scan = scanXMcpHeaders(tool.inputSchema);
      if (scan.declarations?.length) declarations.set(tool.name, scan.declarations);
      if (scan.valid) continue;
      invalid.set(tool.name, scan.reason);
      if (current?.invalid.get(tool.name) !== scan.reason) {
        this.#log.warn(
          "tool left out of MCP 2026-07-28 tool lists: invalid x-mcp-header declaration " +
            "(legacy clients still see it)",
          { tool: tool.name, reason: scan.reason },
        );
      }
    }
    return this.#index = { source: tools, declarations, invalid, pages: new Map() };
  }
}
