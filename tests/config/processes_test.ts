/**
 * Issue #15 with real processes: `vmcp validate` and `vmcp --mode=proxy` give the same verdict
 * on the same file, and a rejection names the field path, the value and the allowed range.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { until } from "../harness/until.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "vmcp-truth-proc-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

async function write(name: string, config: Record<string, unknown>): Promise<string> {
  const file = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(
    file,
    YAML.stringify({ name: "v", groupRef: { name: "g" }, ...config }),
  );
  return file;
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("vmcp validate and the proxy both refuse sessionStorage.ttl 0s with exit 2, naming the field, the value and the range", async () => {
  const file = await write("ttl0", { sessionStorage: { ttl: "0s" } });
  const validate = await run(["validate", "--config", file]);
  assert.equal(validate.code, 2, validate.stderr);
  assert.match(validate.stderr, /sessionStorage\.ttl: .*1s to 720h \(got "0s"\)/);
  const proxy = await run(["--mode=proxy", "--config", file, "--port", "0"]);
  assert.equal(proxy.code, 2, proxy.stderr);
  assert.match(proxy.stderr, /sessionStorage\.ttl: .*1s to 720h \(got "0s"\)/);
});

Deno.test("vmcp validate and the proxy both refuse a composite step with the typo dependson, naming the field it meant", async () => {
  const file = await write("typo", {
    compositeTools: [{
      name: "wf",
      description: "d",
      steps: [{ id: "a", tool: "x" }, { id: "b", tool: "y", dependson: ["a"] }],
    }],
  });
  for (const args of [["validate", "--config", file], ["--mode=proxy", "--config", file]]) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /compositeTools\[0\]\.steps\[1\]\.dependson: Unknown field "dependson"; did you mean "dependsOn"\? \(got \["a"\]\)/,
    );
  }
});

Deno.test("a config at the duration bounds passes vmcp validate and the proxy serves it, then stops cleanly", async () => {
  const file = await write("bounds", {
    operational: {
      timeouts: { default: "100ms", perWorkload: { one: "24h" } },
      failureHandling: { healthCheckInterval: "0s", circuitBreaker: { timeout: "24h" } },
    },
    sessionStorage: { ttl: "1s" },
    server: { host: "127.0.0.1", port: 0 },
  });
  const validate = await run(["validate", "--config", file]);
  assert.equal(validate.code, 0, validate.stderr);
  assert.match(validate.stdout, /: valid/);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--mode=proxy", "--config", file],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  try {
    await until(
      "the proxy to listen",
      () => Promise.resolve(text.includes("vmcp proxy listening")),
      60_000,
    );
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await reading;
  assert.equal(status.code, 0, text);
  assert.doesNotMatch(text, /TimeoutOverflowWarning/);
});
