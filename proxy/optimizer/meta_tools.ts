/**
 * What clients see with `optimizer` on: two tools, ToolHive's `find_tool` and `call_tool`,
 * instead of the aggregated list (proxy/router.ts lists them, proxy/tool_calls.ts calls them).
 *
 * - `find_tool {tool_description, tool_keywords?, limit?}` searches the tools the caller may
 *   call (the list `tools/list` would show it: routable backends, filters, overrides, conflict
 *   resolution, composite tools, Cedar) and answers their full definitions with a score.
 * - `call_tool {tool_name, parameters?}` is a plain `tools/call` of `tool_name` with
 *   `parameters` as its arguments (the request's `_meta`, progress token included, is kept): the
 *   router's own path, so a tool the caller may not call, a hidden or unknown one gets the same
 *   "Unknown tool" error, and an unroutable backend the same refusal.
 * - Any other name called directly is unknown.
 *
 * Bad arguments are tool errors (`isError`) naming the argument, the value and what is allowed.
 * @module
 */
import type { Tool } from "../../core/sdk.ts";
import { ErrorCode } from "../../core/sdk.ts";
import type { AnyObject } from "../backends/connection.ts";
import { RpcError } from "../backends/errors.ts";
import type { ToolSearch } from "./tool_search.ts";

export const FIND_TOOL = "find_tool";
export const CALL_TOOL = "call_tool";
/** Characters of a search query at most. */
export const MAX_QUERY_CHARS = 2000;

function definitions(max: number): Tool[] {
  return [
    {
      name: CALL_TOOL,
      description:
        "Call a tool found with find_tool, by its exact name, with its arguments. Answers what the tool answers.",
      inputSchema: {
        type: "object",
        properties: {
          tool_name: { type: "string", description: "The tool's name as find_tool returned it." },
          parameters: {
            type: "object",
            description: "The tool's arguments, matching the inputSchema find_tool returned.",
          },
        },
        required: ["tool_name"],
      },
    },
    {
      name: FIND_TOOL,
      description:
        "Find the tools for a task. This server has more tools than it lists: describe what you want to do in plain words and get the best matching tools with their full definitions (name, description, inputSchema), then call one with call_tool. Search again with other words if none fits.",
      inputSchema: {
        type: "object",
        properties: {
          tool_description: {
            type: "string",
            description: 'What you want to do, in natural language, e.g. "read a file".',
          },
          tool_keywords: {
            type: "array",
            items: { type: "string" },
            description: "Optional extra keywords (names of products, objects, actions).",
          },
          limit: {
            type: "integer",
            minimum: 1,
            maximum: max,
            description: `Most tools to return (default and maximum ${max}).`,
          },
        },
        required: ["tool_description"],
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
  ];
}

function toolError(text: string): AnyObject {
  return { content: [{ type: "text", text }], isError: true };
}

function unknownTool(name: string): never {
  throw new RpcError(ErrorCode.InvalidParams, `Unknown tool "${name}"`, { tool: name });
}

/** A tool as find_tool returns it: its full definition and its score. */
function described(tool: Tool, score: number): AnyObject {
  const out: AnyObject = { name: tool.name };
  if (tool.title !== undefined) out.title = tool.title;
  if (tool.description !== undefined) out.description = tool.description;
  out.inputSchema = tool.inputSchema;
  if (tool.outputSchema !== undefined) out.outputSchema = tool.outputSchema;
  if (tool.annotations !== undefined) out.annotations = tool.annotations;
  out.score = score;
  return out;
}

/** What the router hands `OptimizerTools.call`. */
export interface CallHooks {
  /** The aggregated tool list (what the index follows). */
  all: readonly Tool[];
  /**
   * The tools the caller may call, as its `tools/list` would show them without the optimizer
   * (its capability set's view, Cedar applied).
   */
  visible(): Promise<readonly Tool[]>;
  /** The router's plain `tools/call` (authorization, routing, health, composite tools). */
  callPlain(params: AnyObject): Promise<AnyObject>;
  /** Told how many tools a `find_tool` answered (the audit event's `resultCount`). */
  found?(count: number): void;
}

/** The two tools and their handling, for one optimizer configuration. */
export class OptimizerTools {
  /** What `tools/list` answers (sorted by name; the same array while the settings hold). */
  readonly tools: readonly Tool[];
  readonly search: ToolSearch;
  /** The tools visible to a caller by name, per visible list (authorization, capability set). */
  readonly #visibleNames = new WeakMap<readonly Tool[], Map<string, Tool>>();

  constructor(search: ToolSearch) {
    this.search = search;
    this.tools = definitions(search.settings.maxToolsToReturn);
  }

  /** Answers a `tools/call` of `params.name` (see the module doc). */
  async call(params: AnyObject, signal: AbortSignal, hooks: CallHooks): Promise<AnyObject> {
    const args = (params.arguments ?? {}) as AnyObject;
    if (params.name === FIND_TOOL) return await this.#find(args, signal, hooks);
    if (params.name !== CALL_TOOL) unknownTool(String(params.name));
    const name = args.tool_name;
    if (typeof name !== "string" || name === "") {
      return toolError(
        `call_tool: tool_name must be the name of a tool find_tool returned, not ${
          JSON.stringify(name) ?? "undefined"
        }`,
      );
    }
    const p = args.parameters ?? {};
    if (typeof p !== "object" || p === null || Array.isArray(p)) {
      return toolError(
        `call_tool: parameters must be an object of the tool's arguments, not ${JSON.stringify(p)}`,
      );
    }
    const inner: AnyObject = { name, arguments: p };
    if (params._meta !== undefined) inner._meta = params._meta;
    return await hooks.callPlain(inner);
  }

  async #find(args: AnyObject, signal: AbortSignal, hooks: CallHooks): Promise<AnyObject> {
    const max = this.search.settings.maxToolsToReturn;
    const d = args.tool_description;
    if (typeof d !== "string" || d.trim() === "") {
      return toolError(
        `find_tool: tool_description must be a non-empty string saying what you want to do, not ${
          JSON.stringify(d) ?? "undefined"
        }`,
      );
    }
    const kw = args.tool_keywords;
    const keywords = typeof kw === "string" ? [kw] : kw ?? [];
    if (!Array.isArray(keywords) || keywords.some((k) => typeof k !== "string")) {
      return toolError(
        `find_tool: tool_keywords must be an array of strings, not ${JSON.stringify(kw)}`,
      );
    }
    const limit = args.limit ?? max;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > max) {
      return toolError(
        `find_tool: limit must be an integer from 1 to ${max}, not ${JSON.stringify(limit)}`,
      );
    }
    const query = [d, ...keywords].join(" ");
    if (query.length > MAX_QUERY_CHARS) {
      return toolError(
        `find_tool: tool_description and tool_keywords are ${query.length} characters; at most ${MAX_QUERY_CHARS}`,
      );
    }
    this.search.sync(hooks.all);
    const visible = await hooks.visible();
    const mine = visible === hooks.all ? undefined : this.#visibleByName(visible);
    const matches = await this.search.find(query, {
      limit,
      ...(mine ? { keep: (name: string) => mine.has(name) } : {}),
      signal,
    });
    hooks.found?.(matches.length);
    // Described as the caller's own view has the tool (its capability set's definition).
    const body = {
      tools: matches.map((m) => described(mine?.get(m.tool.name) ?? m.tool, m.score)),
    };
    return { content: [{ type: "text", text: JSON.stringify(body) }] };
  }

  /** The caller's visible tools by name (kept per visible list). */
  #visibleByName(visible: readonly Tool[]): Map<string, Tool> {
    let byName = this.#visibleNames.get(visible);
    if (!byName) {
      byName = new Map(visible.map((t) => [t.name, t]));
      this.#visibleNames.set(visible, byName);
    }
    return byName;
  }
}
