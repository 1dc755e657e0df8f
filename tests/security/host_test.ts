/**
 * DNS-rebinding defence by `Host` (issue #14 item 3), against the real proxy on loopback: a
 * request for a Host that is not allowed gets 403 on every path (a JSON-RPC error on `/mcp`,
 * plain text on `/status` and `/metrics`) while the probes keep answering; localhost names, IP
 * literals, `server.publicUrl` and `server.allowedHosts` are served; `/status` asks for the
 * incoming auth when it is on; the controller renders the Service's names as `allowedHosts`.
 * Before proxy/server/host.ts, `Host: evil.example` initialized a session and read `/status`
 * and `/metrics` (the first test failed on its first assertion).
 */
import assert from "node:assert/strict";
import { MCPServerSpecSchema } from "../../crds/backends.ts";
import { VirtualMCPServerSpecSchema } from "../../crds/virtualmcpserver.ts";
import { validateConfig } from "../../core/config/load.ts";
import { renderProxyConfig } from "../../controller/vmcp/render_config.ts";
import { HostCheck } from "../../proxy/server/host.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { authProxy, oidcIncoming } from "../auth/helpers.ts";
import { config, connect, proxy } from "../proxy/helpers.ts";

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw", version: "1" },
  },
});

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** One HTTP/1.1 request over a fresh connection with exactly this Host header. */
async function raw(
  port: number,
  method: string,
  path: string,
  host: string,
  opts: { body?: string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const body = new TextEncoder().encode(opts.body ?? "");
    const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}` +
      (opts.body !== undefined
        ? `content-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: ${body.byteLength}\r\n`
        : "") +
      "\r\n";
    await conn.write(new TextEncoder().encode(head));
    if (body.byteLength) await conn.write(body);
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      chunks.reduce((a, c) => {
        const all = new Uint8Array(a.byteLength + c.byteLength);
        all.set(a);
        all.set(c, a.byteLength);
        return all;
      }, new Uint8Array()),
    );
    const split = text.indexOf("\r\n\r\n");
    const headers = text.slice(0, split);
    return { status: Number(headers.split(" ")[1]), headers, body: text.slice(split + 4) };
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

const port = (url: string) => Number(new URL(url).port);

Deno.test("a request for a Host that is not allowed gets 403 on /mcp (JSON-RPC error), /status and /metrics, and opens no session; the probes still answer", async () => {
  const backend = await serveHttpBackend({ name: "b", jsonResponse: true });
  const p = await proxy(config({ backends: [{ name: "b", url: backend.url }] }));
  try {
    const P = port(p.url);
    const mcp = await raw(P, "POST", "/mcp", "evil.example", { body: INIT });
    assert.equal(mcp.status, 403, mcp.body);
    const rpc = JSON.parse(mcp.body);
    assert.equal(rpc.jsonrpc, "2.0");
    assert.equal(rpc.error.code, -32000);
    assert.match(rpc.error.message, /Host "evil\.example" is not allowed/);
    assert.doesNotMatch(mcp.headers, /mcp-session-id/i);
    assert.equal(p.runtime.sessions.size, 0);
    for (const path of ["/status", "/metrics"]) {
      const r = await raw(P, "GET", path, `evil.example:${P}`);
      assert.equal(r.status, 403, `${path}: ${r.body}`);
      assert.match(r.headers, /content-type: text\/plain/i);
      assert.match(r.body, /DNS-rebinding/);
      assert.doesNotMatch(r.body, /"backends"|vmcp_/);
    }
    // Probes answer any Host (kubelet may send any); they reveal only up/ready.
    assert.equal((await raw(P, "GET", "/healthz", "evil.example")).status, 200);
    assert.equal((await raw(P, "GET", "/readyz", "evil.example")).status, 200);
    // Trailing dots, case and ports do not get around it.
    assert.equal((await raw(P, "GET", "/status", "EVIL.example.:80")).status, 403);
  } finally {
    await p.stop();
    await backend.stop();
  }
});

Deno.test("localhost names, IP literals, server.publicUrl and server.allowedHosts are served; an SDK client connects by name", async () => {
  const backend = await serveHttpBackend({ name: "b", jsonResponse: true });
  const p = await proxy(config({
    backends: [{ name: "b", url: backend.url }],
    server: {
      publicUrl: "https://public.example.test/base",
      allowedHosts: ["mcp.example.test", "pinned.example.test:8443", ".corp.example.test"],
    },
  }));
  try {
    const P = port(p.url);
    const allowed = [
      `localhost:${P}`,
      `127.0.0.1:${P}`,
      "[::1]",
      "10.1.2.3:4483", // a pod IP, as kubelet probes and Prometheus send it
      "public.example.test",
      "mcp.example.test:1234", // a name entry allows any port
      "pinned.example.test:8443",
      "a.b.corp.example.test",
      "corp.example.test",
    ];
    for (const host of allowed) {
      const r = await raw(P, "GET", "/status", host);
      assert.equal(r.status, 200, `${host}: ${r.body}`);
      assert.match(r.body, /"backends"/);
    }
    for (const host of ["pinned.example.test:9999", "pinned.example.test", "xcorp.example.test"]) {
      assert.equal((await raw(P, "GET", "/metrics", host)).status, 403, host);
    }
    const init = await raw(P, "POST", "/mcp", "mcp.example.test", { body: INIT });
    assert.equal(init.status, 200, init.body);
    // The SDK client (Host: 127.0.0.1:port) works as before.
    const c = await connect(p.url);
    assert.ok((await c.client.listTools()).tools.some((t) => t.name === "b_echo"));
    await c.close();
  } finally {
    await p.stop();
    await backend.stop();
  }
});

Deno.test('hot reload changes server.allowedHosts; "*" allows any Host', async () => {
  const backend = await serveHttpBackend({ name: "b", jsonResponse: true });
  const base = { backends: [{ name: "b", url: backend.url }] };
  const p = await proxy(config(base));
  try {
    const P = port(p.url);
    assert.equal((await raw(P, "GET", "/status", "new.example.test")).status, 403);
    await p.reload(config({ ...base, server: { allowedHosts: ["new.example.test"] } }));
    assert.equal((await raw(P, "GET", "/status", "new.example.test")).status, 200);
    await p.reload(config({ ...base, server: { allowedHosts: ["*"] } }));
    assert.equal((await raw(P, "GET", "/status", "anything.example")).status, 200);
  } finally {
    await p.stop();
    await backend.stop();
  }
});

Deno.test("with incoming auth on, /status needs the same credentials as /mcp; /healthz and /metrics do not", async () => {
  const idp = await startOidcIssuer();
  const backend = await serveHttpBackend({ name: "b", jsonResponse: true });
  const p = await authProxy(config({
    incomingAuth: oidcIncoming(idp.issuer),
    backends: [{ name: "b", url: backend.url }],
  }));
  try {
    const P = port(p.url);
    const host = `127.0.0.1:${P}`;
    const anonymous = await raw(P, "GET", "/status", host);
    assert.equal(anonymous.status, 401, anonymous.body);
    assert.match(anonymous.headers, /www-authenticate: Bearer/i);
    const token = await idp.sign({ sub: "alice" });
    const authed = await raw(P, "GET", "/status", host, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(authed.status, 200, authed.body);
    assert.match(authed.body, /"backends"/);
    assert.equal((await raw(P, "GET", "/healthz", host)).status, 200);
    assert.equal((await raw(P, "GET", "/metrics", host)).status, 200);
  } finally {
    await p.stop();
    await backend.stop();
    await idp.stop();
  }
});

Deno.test("on a non-loopback listener the default allows IP literals, localhost and the machine hostname only", () => {
  const check = new HostCheck({ listenHost: "0.0.0.0", machineHostname: "box-1" });
  for (const h of ["10.0.0.7:4483", "[fd00::1]:4483", "localhost:4483", "box-1:4483", "BOX-1."]) {
    assert.ok(check.allowed(h), h);
  }
  for (const h of ["evil.example", "box-1.evil.example", "", "a b", "x:notaport"]) {
    assert.ok(!check.allowed(h), h);
  }
  assert.ok(check.allowed(null), "no Host header (not a browser)");
});

Deno.test("the controller renders the Service's names (with and without :4483) and the resourceUrl host as server.allowedHosts, and the proxy accepts exactly those names", () => {
  const render = (incomingAuth?: unknown) =>
    renderProxyConfig({
      name: "demo",
      namespace: "team-a",
      spec: VirtualMCPServerSpecSchema.parse({
        groupRef: { name: "g" },
        ...(incomingAuth ? { incomingAuth } : {}),
      }),
      servers: [{
        name: "web",
        spec: MCPServerSpecSchema.parse({ groupRef: { name: "g" }, url: "http://web:8080/mcp" }),
      }],
      authConfigs: new Map(),
      compositeDefs: new Map(),
    });
  const r = render();
  assert.deepEqual(r.configProblems, []);
  const server = r.config.server as { allowedHosts: string[]; host: string };
  assert.deepEqual(server.allowedHosts, [
    "vmcp-demo",
    "vmcp-demo:4483",
    "vmcp-demo.team-a",
    "vmcp-demo.team-a:4483",
    "vmcp-demo.team-a.svc",
    "vmcp-demo.team-a.svc:4483",
    "vmcp-demo.team-a.svc.cluster.local",
    "vmcp-demo.team-a.svc.cluster.local:4483",
  ]);
  assert.deepEqual(validateConfig(r.config, { standalone: false }).problems, []);
  const check = new HostCheck({
    listenHost: server.host,
    allowedHosts: server.allowedHosts,
    machineHostname: "demo-7d9f-abcde",
  });
  for (const h of server.allowedHosts) assert.ok(check.allowed(h), h);
  assert.ok(check.allowed("10.244.1.17:4483"), "kubelet probes use the pod IP");
  assert.ok(!check.allowed("vmcp-demo.team-b.svc:4483"), "another namespace's name");
  assert.ok(!check.allowed("evil.example:4483"));

  const withResource = render({
    type: "oidc",
    oidcConfig: {
      type: "inline",
      inline: { issuer: "https://issuer.example.test", audience: "vmcp" },
      resourceUrl: "https://mcp.example.test/mcp",
    },
  });
  const hosts = (withResource.config.server as { allowedHosts: string[] }).allowedHosts;
  assert.equal(hosts.at(-1), "mcp.example.test", "the public (Ingress) host of resourceUrl");
});
