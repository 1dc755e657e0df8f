/**
 * server-everything's prompts, completions, resources and resource subscriptions: what a legacy
 * v1 SDK client gets through vmcp is what it gets talking to the same server directly (the README
 * table "direct vs through vmcp"). Over stdio and over Streamable HTTP.
 */
import assert from "node:assert/strict";
import {
  Client,
  ResourceUpdatedNotificationSchema,
  StdioClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { PATIENCE_MS, proxyBeforeEverything } from "./helpers.ts";

const P = "every_";

interface Seen {
  prompts: string[];
  prompt: unknown;
  completion: unknown;
  resources: string[];
  read: unknown;
  updated: string;
}

/** Everything the test compares, as `transport`'s client sees it (`prefix`: vmcp's names). */
async function observe(transport: Transport, prefix: string): Promise<Seen> {
  const client = new Client({ name: "parity", version: "1.0.0" }, { capabilities: {} });
  let resolveUpdated!: (uri: string) => void;
  const updated = new Promise<string>((r) => resolveUpdated = r);
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    resolveUpdated(n.params.uri);
  });
  await client.connect(transport);
  try {
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name.slice(prefix.length));
    const prompt = (await client.getPrompt({ name: `${prefix}simple-prompt` })).messages;
    const completion = (await client.complete({
      ref: { type: "ref/prompt", name: `${prefix}completable-prompt` },
      argument: { name: "department", value: "E" },
    })).completion.values;
    const resources: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listResources(cursor ? { cursor } : {});
      resources.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
    } while (cursor);
    const uri = resources.sort()[0]!;
    const read = (await client.readResource({ uri })).contents;
    await client.subscribeResource({ uri });
    await client.callTool({ name: `${prefix}toggle-subscriber-updates`, arguments: {} });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const got = await Promise.race([
      updated,
      new Promise<string>((r) => timer = setTimeout(() => r("(none)"), PATIENCE_MS)),
    ]);
    clearTimeout(timer);
    await client.callTool({ name: `${prefix}toggle-subscriber-updates`, arguments: {} });
    return {
      prompts: prompts.sort(),
      prompt,
      completion,
      resources,
      read,
      updated: got === uri ? "the subscribed uri" : got,
    };
  } finally {
    if (transport instanceof StreamableHTTPClientTransport) {
      await transport.terminateSession().catch(() => {});
    }
    await client.close();
  }
}

const http = (url: string) =>
  new StreamableHTTPClientTransport(new URL(url), { fetch: createBackendFetch() });

Deno.test("parity: server-everything over stdio: prompts, completions, resources and subscriptions through vmcp as direct", async () => {
  const p = await proxyBeforeEverything();
  try {
    const direct = await observe(new StdioClientTransport(everythingServerCommand()), "");
    const through = await observe(http(p.url), P);
    assert.equal(direct.updated, "the subscribed uri");
    assert.deepEqual(through, direct);
  } finally {
    await p.stop();
  }
});

Deno.test("parity: server-everything over Streamable HTTP: prompts, completions, resources and subscriptions through vmcp as direct", async () => {
  const every = await startEverythingHttp();
  const p = await proxyBeforeEverything(every.url);
  try {
    const direct = await observe(http(every.url), "");
    const through = await observe(http(p.url), P);
    assert.equal(direct.updated, "the subscribed uri");
    assert.deepEqual(through, direct);
  } finally {
    await p.stop();
    await every.stop();
  }
});
