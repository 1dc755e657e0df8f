/**
 * Clients of both eras for the rate-limit tests, presenting a bearer token: a legacy SDK v1
 * client (2025-11-25 session) and an SDK v2 client pinned to 2026-07-28 (stateless), plus the
 * refusal's JSON-RPC error as either client surfaces it.
 * @module
 */
import assert from "node:assert/strict";
import { ClientV2, StreamableHTTPClientTransportV2 } from "../../core/sdk.ts";
import { connectWithToken } from "../auth/helpers.ts";

export interface EraClient {
  era: "2025-11-25" | "2026-07-28";
  /**
   * The call's result text, or throws the JSON-RPC error the client got. `progress`: with a
   * progress token (legacy: the SDK dispatch path, not the JSON fast path; 2026-07-28: an SSE
   * answer).
   */
  call(name: string, args?: Record<string, unknown>, progress?: boolean): Promise<string>;
  /** `prompts/get`: the first message's text. */
  prompt(name: string, args: Record<string, string>): Promise<string>;
  /** `resources/read`: the first content's text. */
  read(uri: string): Promise<string>;
  close(): Promise<void>;
}

/** The refusal's JSON-RPC error fields, as the SDK client hands them over. */
export interface RpcFailure {
  code: number;
  message: string;
  data?: { retryAfterSeconds?: number; scope?: string; tool?: string };
}

type Prompted = { messages: { content: { type: string; text?: string } }[] };
type Read = { contents: { text?: string }[] };
const promptText = (r: Prompted) => r.messages[0]?.content.text ?? "";
const readText = (r: Read) => r.contents[0]?.text ?? "";

function textOf(r: unknown): string {
  const c = (r as { content?: { type: string; text?: string }[] }).content ?? [];
  const t = c.map((x) => x.text ?? "").join("\n");
  return (r as { isError?: boolean }).isError ? `${t} (isError)` : t;
}

export async function legacyClient(url: string, token?: string): Promise<EraClient> {
  const c = await connectWithToken(url, token);
  return {
    era: "2025-11-25",
    call: async (name, args = { message: "hi" }, progress) =>
      textOf(
        await c.client.callTool(
          { name, arguments: args },
          undefined,
          progress ? { onprogress: () => {} } : {},
        ),
      ),
    prompt: async (name, args) => promptText(await c.client.getPrompt({ name, arguments: args })),
    read: async (uri) => readText(await c.client.readResource({ uri }) as Read),
    close: () => c.close(),
  };
}

export async function modernClient(url: string, token?: string): Promise<EraClient> {
  const client = new ClientV2({ name: "rate-limit-test", version: "1.0.0" }, {
    versionNegotiation: { mode: { pin: "2026-07-28" } },
  });
  await client.connect(
    new StreamableHTTPClientTransportV2(new URL(url), {
      fetch: (u, init) => {
        const headers = new Headers(init?.headers);
        if (token) headers.set("authorization", `Bearer ${token}`);
        return fetch(u, { ...init, headers });
      },
    }),
  );
  return {
    era: "2026-07-28",
    call: async (name, args = { message: "hi" }, progress) =>
      textOf(
        await client.callTool({ name, arguments: args }, progress ? { onprogress: () => {} } : {}),
      ),
    prompt: async (name, args) =>
      promptText(await client.getPrompt({ name, arguments: args }) as Prompted),
    read: async (uri) => readText(await client.readResource({ uri }) as Read),
    close: () => client.close(),
  };
}

/** Calls `name` expecting a refusal; returns its JSON-RPC error. */
export async function refusal(
  c: EraClient,
  name: string,
  args?: Record<string, unknown>,
  progress?: boolean,
) {
  const err = await c.call(name, args, progress).then(
    (text) => assert.fail(`${c.era}: ${name} was not refused: ${text}`),
    (e) => e as RpcFailure,
  );
  assert.equal(err.code, -32029, `${c.era}: ${err.message}`);
  return err;
}

/** The value of one `/metrics` sample (0 when absent). */
export async function metric(origin: string, sample: string): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
