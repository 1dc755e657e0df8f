import assert from "node:assert/strict";
import { parseConfig, validateConfig } from "./load.ts";
import { ConfigError } from "./problems.ts";

const minimal = `
name: demo
backends:
  - name: a
    url: http://127.0.0.1:9/mcp
`;

Deno.test("parseConfig() accepts a minimal config and fills defaults", () => {
  const c = parseConfig(minimal);
  assert.equal(c.name, "demo");
  assert.equal(c.backends[0]!.transport, "streamable-http");
  assert.equal(c.backends.length, 1);
});

Deno.test("parseConfig() lists three mistakes with their field paths and values", () => {
  const text = `
name: demo
aggregation:
  conflictResolution: alphabetical
operational:
  timeouts:
    default: 30 seconds
backends:
  - name: a
    url: http://127.0.0.1:9/mcp
    colour: blue
`;
  let err: unknown;
  try {
    parseConfig(text, { source: "bad.yaml" });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const paths = err.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    "aggregation.conflictResolution",
    "backends[0].colour",
    "operational.timeouts.default",
  ]);
  assert.match(
    err.message,
    /aggregation\.conflictResolution: .*allowed: "prefix", "priority", "manual" \(got "alphabetical"\)/,
  );
  assert.match(err.message, /operational\.timeouts\.default: .*duration.*\(got "30 seconds"\)/);
  assert.match(err.message, /backends\[0\]\.colour: Unknown field "colour" \(got "blue"\)/);
});

Deno.test("validateConfig() reports cross-field rules: stdio without command, priority without order, unknown workload", () => {
  const { problems } = validateConfig({
    name: "x",
    aggregation: { conflictResolution: "priority", tools: [{ workload: "ghost" }] },
    backends: [{ name: "s", transport: "stdio" }, { name: "s", url: "http://127.0.0.1:1/mcp" }],
  });
  const paths = problems.map((p) => p.path);
  assert.ok(paths.includes("backends[0].command"), paths.join());
  assert.ok(paths.includes("backends[1].name"), paths.join());
  assert.ok(paths.includes("aggregation.conflictResolutionConfig.priorityOrder"), paths.join());
  assert.ok(paths.includes("aggregation.tools[0].workload"), paths.join());
});

Deno.test("validateConfig() rejects Secret references in a standalone config but allows env vars", () => {
  const base = {
    name: "x",
    backends: [{ name: "a", url: "http://127.0.0.1:1/mcp" }],
    outgoingAuth: {
      source: "inline",
      backends: {
        a: {
          type: "headerInjection",
          headerInjection: { headerName: "X-Key", valueSecretRef: { name: "s", key: "k" } },
        },
      },
    },
  };
  const bad = validateConfig(base);
  assert.equal(bad.problems[0]?.path, "outgoingAuth.backends.a.headerInjection.valueSecretRef");
  const ok = validateConfig({
    ...base,
    outgoingAuth: {
      source: "inline",
      backends: {
        a: { type: "headerInjection", headerInjection: { headerName: "X-Key", valueEnv: "KEY" } },
      },
    },
  });
  assert.deepEqual(ok.problems, []);
});

Deno.test("parseConfig() reports YAML syntax errors as a problem instead of throwing raw", () => {
  assert.throws(
    () => parseConfig("name: [unclosed"),
    (e) => e instanceof ConfigError && /Not valid YAML/.test(e.message),
  );
});
