/**
 * What templates see of a backend `CallToolResult`, and the workflow's own results.
 * @module
 */

import type { CallToolResult } from "../sdk.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The content array as a map: `text`, `text_1`, … for text items, `image_0`, `image_1`, …
 * for images (`{data, mimeType}`), `resource`, `resource_1`, … for embedded resources.
 * Audio and resource links are dropped (as upstream).
 */
export function contentMap(result: CallToolResult): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  let texts = 0, images = 0, resources = 0;
  for (const item of result.content ?? []) {
    if (item.type === "text") {
      map[texts === 0 ? "text" : `text_${texts}`] = item.text;
      texts++;
    } else if (item.type === "image") {
      map[`image_${images++}`] = { data: item.data, mimeType: item.mimeType };
    } else if (item.type === "resource") {
      map[resources === 0 ? "resource" : `resource_${resources}`] = item.resource;
      resources++;
    }
  }
  return map;
}

/**
 * `.steps.<id>.output` for a tool step: `structuredContent` when present; otherwise the
 * content map, with the fields of a single text item that holds a JSON object merged in
 * (so `{{.steps.x.output.field}}` works for tools that return JSON as text).
 */
export function toolStepOutput(result: CallToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent;
  const map = contentMap(result);
  const texts = (result.content ?? []).filter((c) => c.type === "text");
  if (texts.length === 1 && typeof map.text === "string") {
    const s = map.text.trim();
    if (s.startsWith("{")) {
      try {
        const parsed = JSON.parse(s);
        if (isObject(parsed)) return { ...map, ...parsed };
      } catch { /* plain text */ }
    }
  }
  return map;
}

/** The error text of a result with `isError: true`. */
export function errorText(result: CallToolResult): string {
  const texts = (result.content ?? []).flatMap((c) => c.type === "text" ? [c.text] : []);
  return texts.join("\n").trim() || "tool returned an error without text";
}

/** A successful workflow result: one text item with the JSON output, plus structuredContent. */
export function successResult(output: unknown): CallToolResult {
  const result: CallToolResult = {
    content: [{ type: "text", text: JSON.stringify(output ?? null) }],
  };
  if (isObject(output)) result.structuredContent = output;
  return result;
}

/** A failed workflow result (`isError: true`). */
export function failureResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}
