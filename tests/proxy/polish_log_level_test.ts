/**
 * `operational.logLevel` sets the proxy's log level, a hot reload applies a changed level, and
 * a level given on the command line (`--log-level`, passed as `logLevel`) wins over the config.
 */
import assert from "node:assert/strict";
import { createLogger, type LogLevel } from "../../core/log.ts";
import { runProxy } from "../../proxy/main.ts";
import { freePort, waitForPort } from "../harness/ports.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { connect, PATIENCE_MS, waitFor } from "./helpers.ts";

interface Line {
  level: string;
  msg: string;
}

function configText(url: string, level: LogLevel, backend = "web"): string {
  return JSON.stringify({
    name: "log-level-test",
    groupRef: { name: "g" },
    operational: { logLevel: level },
    backends: [{ name: backend, url }],
  });
}

/** Runs the real `runProxy` on a config file with a debug-level base logger capturing lines. */
async function start(level: LogLevel, cliLevel?: LogLevel) {
  const web = await serveHttpBackend({ name: "web" });
  const dir = await Deno.makeTempDir();
  const path = `${dir}/vmcp.json`;
  await Deno.writeTextFile(path, configText(web.url, level));
  const lines: Line[] = [];
  const logger = createLogger({ level: "debug", sink: (l) => lines.push(JSON.parse(l)) });
  const port = freePort();
  const ac = new AbortController();
  const done = runProxy({
    config: path,
    demo: false,
    host: "127.0.0.1",
    port: String(port),
    stdioBridge: false,
    bridgeCommand: [],
    env: () => undefined,
    logger,
    ...(cliLevel ? { logLevel: cliLevel } : {}),
  }, ac.signal);
  await waitForPort(port, PATIENCE_MS);
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitFor(
    async () => {
      const r = await fetch(url.replace("/mcp", "/readyz"));
      await r.body?.cancel();
      return r.status === 200;
    },
    PATIENCE_MS,
    "readiness",
  );
  return {
    url,
    lines,
    has: (msg: string) => lines.some((l) => l.msg.startsWith(msg)),
    /** Rewrites the config with level `next` and the backend renamed to `backend`. */
    rewrite: (next: LogLevel, backend = "web") =>
      Deno.writeTextFile(path, configText(web.url, next, backend)),
    /**
     * Waits until /status lists backend `name` ready: a reload that renamed the backend is applied
     * (the level is set before the backends change), even when it logged nothing.
     */
    reloaded: (name: string) =>
      waitFor(
        async () => {
          const r = await fetch(url.replace("/mcp", "/status"));
          const s = await r.json() as { backends: { name: string; status: string }[] };
          return s.backends.some((b) => b.name === name && b.status === "ready");
        },
        PATIENCE_MS,
        `the reload renaming the backend to ${name}`,
      ),
    /** Opens and closes one SDK session (logs "session opened" at debug). */
    session: async () => {
      const c = await connect(url);
      await c.client.listTools();
      await c.close();
    },
    stop: async () => {
      ac.abort(new Error("test done"));
      assert.equal(await done, 0);
      await web.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("operational.logLevel sets the proxy's level and a hot reload applies a changed level", async () => {
  const p = await start("error");
  try {
    await p.session();
    assert.ok(!p.has("vmcp proxy listening"), "no info lines at level error");
    assert.ok(!p.has("session opened"), "no debug lines at level error");
    assert.deepEqual(p.lines.filter((l) => l.level !== "error"), []);

    await p.rewrite("debug");
    await waitFor(() => p.has("config reloaded"), PATIENCE_MS, "the reload (an info line)");
    assert.ok(p.has("log level changed"));
    await p.session();
    await waitFor(() => p.has("session opened"), PATIENCE_MS, "a debug line after the reload");

    await p.rewrite("warn", "web2");
    await p.reloaded("web2"); // the reload is silent at warn
    const count = p.lines.length;
    await p.session();
    const after = p.lines.slice(count);
    assert.ok(after.every((l) => l.level === "warn" || l.level === "error"), JSON.stringify(after));
  } finally {
    await p.stop();
  }
});

Deno.test("a --log-level given on the command line wins over operational.logLevel, also after a reload", async () => {
  const p = await start("debug", "warn");
  try {
    await p.session();
    assert.ok(!p.has("vmcp proxy listening"));
    assert.ok(!p.has("session opened"));
    await p.rewrite("info", "web2");
    await p.reloaded("web2");
    await p.session();
    assert.deepEqual(p.lines.filter((l) => l.level === "info" || l.level === "debug"), []);
  } finally {
    await p.stop();
  }
});
