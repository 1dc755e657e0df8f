/**
 * The real binary: `main.ts --mode=proxy --demo` serves both demo backends and exits 0 on
 * SIGTERM, leaving no children; a bad config exits 2 listing every problem.
 */
import assert from "node:assert/strict";
import { freePort, waitForPort } from "../harness/ports.ts";
import { connect } from "./helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test("the demo serves both demo backends' tools to an SDK client and shuts down cleanly on SIGTERM", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--mode=proxy", "--demo", "--port", String(port)],
    stdout: "null",
    stderr: "piped",
    cwd: "/",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  const reading = (async () => {
    for (;;) {
      const { done, value } = await stderr.read();
      if (done) return;
      log += value;
    }
  })();
  try {
    await waitForPort(port, 30_000);
    for (let i = 0; i < 300; i++) { // up to 30 s: a busy machine may be slow to discover
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      await r.body?.cancel();
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const c = await connect(`http://127.0.0.1:${port}/mcp`);
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    await c.close();
    assert.ok(names.includes("weather_search") && names.includes("notes_search"), String(names));
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await reading;
    assert.equal(status.code, 0, log);
  }
  assert.match(log, /development only/);
  assert.match(log, new RegExp(`http://127.0.0.1:${port}/mcp`));
});

Deno.test("an invalid config exits 2 and prints every problem", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/bad.yaml`,
    "name: x\nbogus: 1\nbackends: [{ name: a, transport: stdio }]\n",
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--mode=proxy", "--config", `${dir}/bad.yaml`],
    stdout: "null",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const text = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, text);
  assert.match(text, /bogus/);
  assert.match(text, /groupRef|backends\[0\]\.command/);
});
