import assert from "node:assert/strict";
import { BackendConfigSchema } from "../../crds/vmcp_config.ts";
import { isBackendAnswer } from "./errors.ts";
import {
  processLimitError,
  STDIO_PROCESS_LIMIT,
  stdioPerSession,
  stdioSettings,
} from "./stdio_isolation.ts";

const stdio = (extra: Record<string, unknown> = {}) =>
  BackendConfigSchema.parse({ name: "local", transport: "stdio", command: "srv", ...extra });

Deno.test("a stdio backend without settings gets one process per session, at most 16", () => {
  assert.deepEqual(stdioSettings(stdio()), { mode: "perSession", maxProcesses: 16 });
  assert.equal(stdioPerSession(stdio()), true);
  assert.equal(stdioPerSession(stdio({ stdio: { mode: "shared" } })), false);
  assert.equal(
    stdioSettings(BackendConfigSchema.parse({ name: "w", url: "http://x/mcp" })),
    undefined,
  );
});

Deno.test("the process bound refuses a new session only when maxProcesses sessions have one", () => {
  const cfg = stdio({ stdio: { maxProcesses: 2 } });
  assert.equal(processLimitError(cfg, 1), undefined);
  const err = processLimitError(cfg, 2)!;
  assert.equal(err.code, STDIO_PROCESS_LIMIT);
  assert.match(
    err.message,
    /Backend "local": all 2 per-session stdio processes \(stdio\.maxProcesses\)/,
  );
  assert.deepEqual(err.data, { backend: "local", maxProcesses: 2 });
  // Not a backend failure: health and the circuit breaker ignore it.
  assert.equal(isBackendAnswer(err), true);
  assert.equal(
    processLimitError(stdio({ stdio: { mode: "shared", maxProcesses: 1 } }), 5),
    undefined,
  );
});
