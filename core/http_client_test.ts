import assert from "node:assert/strict";
import { createBackendFetch } from "./http_client.ts";
import { Client, StreamableHTTPClientTransport } from "./sdk.ts";
import { serveHttpBackend } from "../tests/fixtures/serve_http.ts";
import { serveSseBackend } from "../tests/fixtures/serve_sse.ts";

const root = new URL("../", import.meta.url).pathname;

/**
 * Runs the leak-check child: waits (up to `readyMs`) until it prints its "closed N" line, then
 * gives it `exitMs` to exit by itself, and kills it otherwise. The start-up budget is generous
 * (a busy machine may take many seconds to start Deno and connect); only the time after
 * "closed" decides whether the child exits by itself.
 */
async function runChild(
  args: string[],
  exitMs: number,
  readyMs = 60_000,
): Promise<{ exited: boolean; closed: boolean; code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      "--cached-only",
      "--v8-flags=--expose-gc",
      "--config",
      `${root}deno.json`,
      `${root}tests/fixtures/http_client_child.ts`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let sawClosed: (v: true) => void = () => {};
  const closedLine = new Promise<true>((resolve) => (sawClosed = resolve));
  const stdoutDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      if (/closed \d+\n/.test(stdout)) sawClosed(true);
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const after = (ms: number) =>
    new Promise<"timeout">((resolve) => {
      clearTimeout(timer);
      timer = setTimeout(() => resolve("timeout"), ms);
    });
  const exit = child.status.then(() => "exit" as const);
  const ready = await Promise.race([closedLine, exit, after(readyMs)]);
  const closed = ready === true;
  const first = closed ? await Promise.race([exit, after(exitMs)]) : ready;
  clearTimeout(timer);
  if (first === "timeout") child.kill("SIGKILL");
  const status = await child.status;
  await stdoutDone;
  return { exited: first !== "timeout", closed, code: status.code, stdout, stderr: await stderr };
}

/** Serves `handler` on 127.0.0.1; returns its origin and a stop function. */
function listen(handler: (req: Request) => Response | Promise<Response>) {
  const abort = new AbortController();
  return new Promise<{ origin: string; stop: () => Promise<void> }>((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: ({ port }) =>
        resolve({
          origin: `http://127.0.0.1:${port}`,
          stop: async () => {
            abort.abort();
            await server.finished;
          },
        }),
    }, handler);
  });
}

Deno.test("a process that closed its HTTP and SSE MCP clients exits by itself with createBackendFetch", async () => {
  const http = await serveHttpBackend({ name: "leak-http", tools: 2 });
  const sse = await serveSseBackend({ name: "leak-sse", tools: 2 });
  try {
    const run = await runChild(["--streamable", http.url, "--sse", sse.url], 60_000);
    assert.ok(run.closed, `child never closed its clients; stderr: ${run.stderr}`);
    assert.ok(run.exited, `child did not exit within 60 s of closing; stderr: ${run.stderr}`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /closed 5/);
  } finally {
    await http.stop();
    await sse.stop();
  }
});

Deno.test("with the plain global fetch the same child hangs (the Deno leak the wrapper fixes)", async () => {
  const http = await serveHttpBackend({ name: "leak-plain", tools: 2 });
  try {
    // A negative check: a slow machine only makes "still running 3 s after closing" likelier.
    const run = await runChild(["--streamable", http.url, "--plain"], 3_000);
    assert.ok(run.closed, `child never closed its clients; stderr: ${run.stderr}`);
    assert.match(run.stdout, /closed 3/, run.stderr);
    assert.equal(run.exited, false, "plain fetch exited: the Deno bug may be fixed upstream");
  } finally {
    await http.stop();
  }
});

Deno.test("a redirect within the same origin is followed with the original headers", async () => {
  const seen: (string | null)[] = [];
  const server = await listen((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/start") return Response.redirect(new URL("/final", req.url), 302);
    if (path === "/post") {
      return new Response(null, { status: 307, headers: { location: "/echo" } });
    }
    seen.push(req.headers.get("authorization"));
    return new Response(req.method === "POST" ? req.body : "final");
  });
  try {
    const f = createBackendFetch();
    const init = { headers: { authorization: "Bearer same" } };
    const res = await f(`${server.origin}/start`, init);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "final");
    const posted = await f(`${server.origin}/post`, { ...init, method: "POST", body: "payload" });
    assert.equal(await posted.text(), "payload");
    assert.deepEqual(seen, ["Bearer same", "Bearer same"]);
  } finally {
    await server.stop();
  }
});

Deno.test("a redirect to another origin is returned unfollowed and the other host never sees the credentials", async () => {
  let otherHits = 0;
  const other = await listen(() => {
    otherHits++;
    return new Response("stolen");
  });
  const server = await listen(() => Response.redirect(`${other.origin}/mcp`, 307));
  try {
    const f = createBackendFetch();
    const res = await f(`${server.origin}/x`, { headers: { authorization: "Bearer secret" } });
    await res.body?.cancel();
    assert.equal(res.status, 307);
    assert.equal(res.headers.get("location"), `${other.origin}/mcp`);

    const client = new Client({ name: "redirect-check", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), {
      fetch: f,
      requestInit: { headers: { authorization: "Bearer secret" } },
    });
    await assert.rejects(client.connect(transport));
    await client.close();
    assert.equal(otherHits, 0);
  } finally {
    await server.stop();
    await other.stop();
  }
});

Deno.test("redirect: manual is passed through and a redirect loop ends in an error naming the limit", async () => {
  const server = await listen((req) => Response.redirect(new URL("/again", req.url), 302));
  try {
    const f = createBackendFetch({ maxRedirects: 3 });
    const manual = await f(`${server.origin}/start`, { redirect: "manual" });
    await manual.body?.cancel();
    assert.equal(manual.status, 302);
    await assert.rejects(f(`${server.origin}/start`), /more than 3 redirects/);
  } finally {
    await server.stop();
  }
});
