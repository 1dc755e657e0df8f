/**
 * Issue #17 item 4: roots. A backend's `roots/list` reaches the client it concerns (never another
 * user's client; when vmcp cannot tell whose it is, it is refused), and a client's
 * `notifications/roots/list_changed` reaches its own backend sessions, so the backend asks again
 * and sees the new roots. Before, vmcp never forwarded the notification: server-everything kept
 * the roots it had first asked for.
 *
 * server-everything's `get-roots-list` shows the roots it holds for the session (it asks once,
 * then again on each `roots/list_changed`). Two v1 legacy clients with different roots, behind
 * vmcp over stdio and over Streamable HTTP; and a 2026-07-28 v2 client (roots asked during its
 * call, answered through `input_required`).
 */
import assert from "node:assert/strict";
import {
  Client,
  ClientV2,
  ListRootsRequestSchema,
  StreamableHTTPClientTransport,
  StreamableHTTPClientTransportV2,
} from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { config, PATIENCE_MS, proxy } from "./helpers.ts";

type BackendConfigInput = NonNullable<VmcpConfigInput["backends"]>[number];
const TOOL = "every_get-roots-list";

interface RootsClient {
  client: Client;
  /** Replaces the client's roots and tells the server (`notifications/roots/list_changed`). */
  setRoots(uris: string[]): Promise<void>;
  /** What server-everything's get-roots-list says now. */
  shown(): Promise<string>;
  close(): Promise<void>;
}

async function rootsClient(url: string, uris: string[]): Promise<RootsClient> {
  let roots = uris;
  const client = new Client({ name: "roots-test", version: "1.0.0" }, {
    capabilities: { roots: { listChanged: true } },
  });
  client.setRequestHandler(ListRootsRequestSchema, () => ({
    roots: roots.map((uri) => ({ uri, name: uri.split("/").pop() })),
  }));
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: createBackendFetch(),
  });
  await client.connect(transport);
  return {
    client,
    setRoots: async (next) => {
      roots = next;
      await client.sendRootsListChanged();
    },
    shown: async () => {
      const r = await client.callTool({ name: TOOL, arguments: {} });
      return JSON.stringify(r.content);
    },
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** Polls `shown` until it matches `want` (server-everything re-asks asynchronously). */
async function until(c: RootsClient, want: RegExp): Promise<string> {
  const deadline = Date.now() + PATIENCE_MS;
  let last = "";
  while (Date.now() < deadline) {
    last = await c.shown();
    if (want.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`roots never showed ${want}: last answer ${last}`);
}

async function twoUsersAndAChange(backend: BackendConfigInput): Promise<void> {
  const p = await proxy(
    config({ operational: { timeouts: { default: "60s" } }, backends: [backend] }),
  );
  const a = await rootsClient(p.url, ["file:///work/alice-1"]);
  const b = await rootsClient(p.url, ["file:///work/bob-1"]);
  try {
    const first = await until(a, /alice-1/);
    assert.doesNotMatch(first, /bob/);
    const theirs = await until(b, /bob-1/);
    assert.doesNotMatch(theirs, /alice/);

    // Alice's roots change: the backend hears of it through her own backend session and asks her.
    await a.setRoots(["file:///work/alice-2", "file:///work/alice-3"]);
    const changed = await until(a, /alice-2.*alice-3/);
    assert.doesNotMatch(changed, /alice-1|bob/);
    // Bob's backend session was not told: it still shows his first roots.
    const still = await b.shown();
    assert.match(still, /bob-1/);
    assert.doesNotMatch(still, /alice/);
  } finally {
    await a.close();
    await b.close();
    await p.stop();
  }
}

function stdioBackend(mode?: "shared"): BackendConfigInput {
  const e = everythingServerCommand();
  return {
    name: "every",
    transport: "stdio",
    command: e.command,
    args: e.args,
    env: e.env,
    cwd: e.cwd,
    ...(mode ? { stdio: { mode } } : {}),
  };
}

Deno.test("roots: over stdio each legacy client's roots reach only its backend session, and its roots/list_changed makes the backend ask it again", async () => {
  await twoUsersAndAChange(stdioBackend());
});

Deno.test("roots: over Streamable HTTP each legacy client's roots reach only its backend session, and its roots/list_changed makes the backend ask it again", async () => {
  const every = await startEverythingHttp();
  try {
    await twoUsersAndAChange({ name: "every", transport: "streamable-http", url: every.url });
  } finally {
    await every.stop();
  }
});

Deno.test("roots: a shared stdio process's roots/list is refused, never answered with another client's roots", async () => {
  const p = await proxy(config({
    operational: { timeouts: { default: "60s" } },
    backends: [stdioBackend("shared")],
  }));
  const a = await rootsClient(p.url, ["file:///work/alice-1"]);
  try {
    const shown = await a.shown();
    assert.doesNotMatch(shown, /alice/, "a shared process is nobody's: roots are not guessed");
  } finally {
    await a.close();
    await p.stop();
  }
});

Deno.test("roots: a 2026-07-28 client's roots reach server-everything through input_required", async () => {
  const p = await proxy(config({
    operational: { timeouts: { default: "60s" } },
    backends: [stdioBackend()],
  }));
  const client = new ClientV2({ name: "roots-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: { roots: {} },
    inputRequired: { autoFulfill: true },
  });
  client.setRequestHandler(
    "roots/list",
    () => Promise.resolve({ roots: [{ uri: "file:///work/modern-1", name: "modern-1" }] }),
  );
  try {
    await client.connect(new StreamableHTTPClientTransportV2(new URL(p.url)));
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    const r = await client.callTool({ name: TOOL, arguments: {} });
    assert.match(JSON.stringify(r.content), /modern-1/);
  } finally {
    await client.close().catch(() => {});
    await p.stop();
  }
});
