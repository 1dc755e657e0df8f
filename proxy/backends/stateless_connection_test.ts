import assert from "node:assert/strict";
import { BackendConfigSchema } from "../../crds/vmcp_config.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { silentLogger } from "../../core/log.ts";
import { serveV2Backend } from "../../tests/fixtures/v2_backend.ts";
import type { AnyObject, SessionPeer } from "./connection.ts";
import { probeEra } from "./era_probe.ts";
import { BackendUnavailableError, RpcError } from "./errors.ts";
import { StatelessBackendConnection } from "./stateless_connection.ts";

const cfg = (url: string) => BackendConfigSchema.parse({ name: "m", url });
const who = (subject: string) => ({ subject }) as unknown as Identity;
const headersFor = (identity: Identity | undefined) =>
  Promise.resolve({ authorization: `Bearer ${identity?.subject ?? "vmcp"}` });

/** The client side of one caller (an in-memory peer: records what reaches it). */
function peer(subject: string, capabilities: AnyObject, logLevel?: string) {
  const notes: { n: { method: string; params?: AnyObject }; related: unknown }[] = [];
  const p = {
    id: `s-${subject}`,
    identity: who(subject),
    logLevel,
    request: () => Promise.reject(new Error("not expected")),
    notify: (n: { method: string; params?: AnyObject }, related?: unknown) => {
      notes.push({ n, related });
      return Promise.resolve();
    },
    clientCapabilities: () => capabilities,
  };
  return { peer: p as unknown as SessionPeer, notes };
}

async function open(url: string, broken: string[] = []) {
  const v = await probeEra(cfg(url), {}, AbortSignal.timeout(30_000));
  assert.equal(v.era, "modern");
  const conn = new StatelessBackendConnection(
    cfg(url),
    (v as { discover: AnyObject }).discover,
    {
      onListChanged: () => {},
      onBroken: () => void broken.push("broken"),
    },
    silentLogger,
    headersFor,
  );
  await conn.connect();
  return conn;
}

Deno.test("stateless connection: a caller's call carries its capabilities, log level, credentials and the original name; its progress goes to it", async () => {
  const b = await serveV2Backend();
  const conn = await open(b.url);
  const ada = peer("ada", { elicitation: { form: {} } }, "debug");
  try {
    const r = await conn.request(
      "tools/call",
      { name: "progress", arguments: { steps: 2 }, _meta: { progressToken: "tok" } },
      { ctx: { session: ada.peer, relatedRequestId: 7 }, timeoutMs: 30_000 },
    );
    assert.deepEqual(r.content, [{ type: "text", text: "done after 2" }]);
    assert.equal(r.resultType, undefined, "resultType complete is not relayed");
    assert.deepEqual(
      ada.notes.map((x) => [x.n.params?.progress, x.n.params?.progressToken, x.related]),
      [
        [1, "tok", 7],
        [2, "tok", 7],
      ],
    );
    const seen = b.recorded.at(-1)!;
    assert.equal(seen.headers["mcp-name"], "progress");
    assert.equal(seen.headers.authorization, "Bearer ada");
    assert.deepEqual(seen.meta?.["io.modelcontextprotocol/clientCapabilities"], {
      elicitation: { form: {} },
    });
    assert.equal(seen.meta?.["io.modelcontextprotocol/logLevel"], "debug");
    assert.equal(seen.meta?.progressToken, "tok");
  } finally {
    await conn.close();
    await b.stop();
  }
});

Deno.test("stateless connection: discovery lists go through the SDK client with vmcp's own credentials; onprogress gets a token of its own", async () => {
  const b = await serveV2Backend();
  const conn = await open(b.url);
  try {
    const list = await conn.request("tools/list", undefined, { timeoutMs: 30_000 });
    assert.ok((list.tools as { name: string }[]).some((t) => t.name === "echo"));
    const seen = b.recorded.at(-1)!;
    assert.equal(seen.method, "tools/list");
    assert.equal(seen.headers.authorization, "Bearer vmcp");
    assert.equal(seen.headers["mcp-protocol-version"], "2026-07-28");
    const progress: number[] = [];
    await conn.request("tools/call", { name: "progress", arguments: { steps: 3 } }, {
      timeoutMs: 30_000,
      onprogress: (p) => void progress.push(p.progress),
    });
    assert.deepEqual(progress, [1, 2, 3]);
  } finally {
    await conn.close();
    await b.stop();
  }
});

Deno.test("stateless connection: input_required without a caller to ask fails with -32603 naming the backend; a dead backend is unavailable and reported broken", async () => {
  const b = await serveV2Backend();
  const broken: string[] = [];
  const conn = await open(b.url, broken);
  const ada = peer("ada", { elicitation: { form: {} } });
  try {
    // (A caller's input_required is driven through it: tests/proxy/mrtr_modern_backend_test.ts.)
    await assert.rejects(
      conn.request("tools/call", { name: "confirm", arguments: {} }, { timeoutMs: 30_000 }),
      (e) => e instanceof RpcError && e.code === -32603 && /Backend "m"/.test(e.message),
    );
    await b.stop();
    await assert.rejects(
      conn.request("tools/call", { name: "echo", arguments: { message: "x" } }, {
        ctx: { session: ada.peer },
        timeoutMs: 30_000,
      }),
      BackendUnavailableError,
    );
    assert.deepEqual(broken, ["broken"]);
  } finally {
    await conn.close();
  }
});
