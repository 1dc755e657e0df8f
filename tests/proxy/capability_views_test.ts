/**
 * Issue #17 item 3: what a client lists and can call through vmcp is what it would list and call
 * direct with its own capabilities (docs/adr/0012-lists-per-client-capability-set.md).
 * server-everything registers `get-roots-list`, `trigger-sampling-request`,
 * `trigger-elicitation-request` and `trigger-url-elicitation` only for clients that declare
 * roots, sampling, elicitation and URL elicitation. Before, vmcp discovered once with
 * `{sampling, elicitation, roots}` and listed those three tools to every client (and never
 * `trigger-url-elicitation`).
 *
 * Checked with real SDK clients of both eras (v1 legacy sessions, v2 2026-07-28) against the
 * same server-everything directly (v1 client, same capabilities), behind vmcp over stdio and over
 * Streamable HTTP.
 */
import assert from "node:assert/strict";
import {
  Client,
  ClientV2,
  ElicitRequestSchema,
  StdioClientTransport,
  StreamableHTTPClientTransport,
  StreamableHTTPClientTransportV2,
  type Transport,
} from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { proxyBeforeEverything } from "./helpers.ts";

type Caps = Record<string, unknown>;

/** A client that declares nothing. */
const NONE: Caps = {};
/** Everything server-everything looks at, URL elicitation included. */
const FULL: Caps = {
  roots: { listChanged: true },
  sampling: {},
  elicitation: { form: {}, url: {} },
};
/** Only roots. */
const ROOTS: Caps = { roots: {} };

const PREFIX = "every_";

/** Tool names a v1 client with `caps` lists over `transport` (sorted). */
async function v1Names(transport: Transport, caps: Caps, strip = ""): Promise<string[]> {
  const client = new Client({ name: "caps-test", version: "1.0.0" }, { capabilities: caps });
  await client.connect(transport);
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    return tools.map((n) => n.startsWith(strip) ? n.slice(strip.length) : n).sort();
  } finally {
    await client.close();
  }
}

/** Tool names a 2026-07-28 v2 client with `caps` lists through vmcp (prefix stripped, sorted). */
async function v2Names(url: string, caps: Caps): Promise<string[]> {
  const client = new ClientV2({ name: "caps-test-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: caps,
  });
  await client.connect(new StreamableHTTPClientTransportV2(new URL(url)));
  try {
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    const tools = (await client.listTools()).tools.map((t) => t.name);
    return tools.map((n) => n.startsWith(PREFIX) ? n.slice(PREFIX.length) : n).sort();
  } finally {
    await client.close().catch(() => {});
  }
}

function httpTransport(url: string): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(url), { fetch: createBackendFetch() });
}

/** Lists through vmcp (both eras) and direct for each capability set; they must agree. */
async function assertListsAgree(vmcpUrl: string, direct: () => Transport): Promise<void> {
  for (const [label, caps] of [["none", NONE], ["roots only", ROOTS], ["full", FULL]] as const) {
    const want = await v1Names(direct(), caps);
    const legacy = await v1Names(httpTransport(vmcpUrl), caps, PREFIX);
    assert.deepEqual(legacy, want, `legacy client declaring ${label}`);
    const modern = await v2Names(vmcpUrl, caps);
    assert.deepEqual(modern, want, `2026-07-28 client declaring ${label}`);
  }
  // The capability-dependent tools, as server-everything decides them.
  const none = await v1Names(direct(), NONE);
  const full = await v1Names(direct(), FULL);
  for (const t of ["get-roots-list", "trigger-sampling-request", "trigger-elicitation-request"]) {
    assert.ok(!none.includes(t) && full.includes(t), t);
  }
  assert.ok(full.includes("trigger-url-elicitation"));
}

/** A legacy client declaring URL elicitation calls `trigger-url-elicitation` through vmcp. */
async function assertUrlElicitationCall(vmcpUrl: string): Promise<void> {
  const client = new Client({ name: "url-elicit", version: "1.0.0" }, { capabilities: FULL });
  const asked: Caps[] = [];
  client.setRequestHandler(ElicitRequestSchema, (req) => {
    asked.push(req.params as Caps);
    return { action: "accept" };
  });
  await client.connect(httpTransport(vmcpUrl));
  try {
    const r = await client.callTool({
      name: `${PREFIX}trigger-url-elicitation`,
      arguments: { url: "https://example.com/consent" },
    });
    assert.match(JSON.stringify(r.content), /User completed the URL elicitation flow/);
    assert.equal(asked[0]?.mode, "url");
    assert.equal(asked[0]?.url, "https://example.com/consent");
  } finally {
    await client.close();
  }
  // A client that declared no roots cannot call get-roots-list, as direct ("not found").
  const bare = new Client({ name: "bare", version: "1.0.0" }, { capabilities: {} });
  await bare.connect(httpTransport(vmcpUrl));
  try {
    await assert.rejects(
      bare.callTool({ name: `${PREFIX}get-roots-list`, arguments: {} }),
      /Unknown tool/,
    );
  } finally {
    await bare.close();
  }
}

Deno.test("capabilities: server-everything over stdio lists per client capability set through vmcp as direct (both eras), URL elicitation callable", async () => {
  const p = await proxyBeforeEverything();
  try {
    await assertListsAgree(p.url, () => new StdioClientTransport(everythingServerCommand()));
    await assertUrlElicitationCall(p.url);
  } finally {
    await p.stop();
  }
});

Deno.test("capabilities: server-everything over Streamable HTTP lists per client capability set through vmcp as direct (both eras), URL elicitation callable", async () => {
  const every = await startEverythingHttp();
  const p = await proxyBeforeEverything(every.url);
  try {
    await assertListsAgree(p.url, () => httpTransport(every.url));
    await assertUrlElicitationCall(p.url);
  } finally {
    await p.stop();
    await every.stop();
  }
});
