/**
 * Shared pieces of the recovery tests: a JSON-RPC error's code/message/data from a failed
 * call, the backend's status on `/status`, and a call that never throws.
 * @module
 */
import { McpError } from "../../core/sdk.ts";
import type { Connected } from "../proxy/helpers.ts";

export interface CallOutcome {
  ok: boolean;
  code?: number;
  /** Error message ("" on success). */
  message: string;
  data?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

/** Calls `name` and reports the outcome instead of throwing. */
export async function tryCall(
  c: Connected,
  name: string,
  args: Record<string, unknown> = {},
  timeout = 60_000,
): Promise<CallOutcome> {
  try {
    const r = await c.client.callTool({ name, arguments: args }, undefined, { timeout });
    return { ok: true, message: "", result: r as Record<string, unknown> };
  } catch (e) {
    if (e instanceof McpError) {
      const message = e.message.replace(/^MCP error -?\d+: /, "");
      return { ok: false, code: e.code, message, data: e.data as Record<string, unknown> };
    }
    return { ok: false, message: String(e) };
  }
}

/** `/status` entry of one backend. */
export async function backendStatus(
  mcpUrl: string,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  const s = await (await fetch(mcpUrl.replace(/\/mcp$/, "/status"))).json();
  return s.backends.find((b: { name: string }) => b.name === name);
}

/** True when `text` says the same thing twice (the #15 doubled error text). */
export function repeats(text: string): boolean {
  return /is unavailable: .*is unavailable/.test(text) || /unavailable: unavailable/.test(text);
}

/** A measurement line for the test output (the number is reported, never asserted). */
export function note(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`  [recovery] ${line}\n`));
}
