import assert from "node:assert/strict";
import { type VmcpConfigInput, VmcpConfigSchema } from "../crds/vmcp_config.ts";
import { silentLogger } from "../core/log.ts";
import { outgoingAuthFor, resolveStrategy } from "./auth_wiring.ts";

const own = { type: "headerInjection", headerInjection: { headerName: "X-Own", valueEnv: "OWN" } };
const explicit = {
  type: "headerInjection",
  headerInjection: { headerName: "X-Explicit", valueEnv: "EXPLICIT" },
};
const fallback = {
  type: "headerInjection",
  headerInjection: { headerName: "X-Default", valueEnv: "DEFAULT" },
};

function pick(outgoingAuth: VmcpConfigInput["outgoingAuth"], withOwn: boolean, withEntry: boolean) {
  const cfg = VmcpConfigSchema.parse({
    name: "t",
    outgoingAuth: {
      ...outgoingAuth,
      ...(withEntry ? { backends: { b: explicit } } : {}),
    },
    backends: [{ name: "b", url: "http://127.0.0.1:1/mcp", ...(withOwn ? { auth: own } : {}) }],
  });
  const s = resolveStrategy(cfg.backends[0]!, cfg) as { headerInjection?: { headerName: string } };
  return s.headerInjection?.headerName ?? (s as { type: string }).type;
}

Deno.test("discovered, inline and mixed sources pick the backend's strategy as documented; an explicit entry wins in every mode", () => {
  const table: [string, boolean, boolean, string][] = [
    // source, backend has its own auth, outgoingAuth.backends has an entry → header used
    ["discovered", true, true, "X-Explicit"],
    ["discovered", false, true, "X-Explicit"],
    ["discovered", true, false, "X-Own"],
    ["discovered", false, false, "X-Default"],
    ["inline", true, true, "X-Explicit"],
    ["inline", true, false, "X-Default"],
    ["mixed", true, true, "X-Explicit"],
    ["mixed", true, false, "X-Own"],
    ["mixed", false, false, "X-Default"],
  ];
  for (const [source, withOwn, withEntry, want] of table) {
    assert.equal(
      pick({ source: source as "inline", default: fallback as never }, withOwn, withEntry),
      want,
      `${source} own=${withOwn} entry=${withEntry}`,
    );
  }
  assert.equal(pick({ source: "inline" }, true, false), "unauthenticated");
  assert.equal(
    pick({ source: "inline", default: { type: "discovered" } }, false, false),
    "unauthenticated",
    "a discovered default with nothing discovered is unauthenticated",
  );
  assert.equal(pick({ source: "inline", default: { type: "discovered" } }, true, false), "X-Own");
});

Deno.test("a backend whose strategy cannot be built gets headers that always fail, naming the reason", async () => {
  const cfg = VmcpConfigSchema.parse({
    name: "t",
    backends: [{ name: "b", url: "http://127.0.0.1:1/mcp", auth: own }],
  });
  const wire = outgoingAuthFor(silentLogger, { env: () => undefined });
  const headersFor = wire(cfg.backends[0]!, cfg)!;
  await assert.rejects(headersFor(undefined), /outgoing auth cannot be built.*OWN.*not set/);
  await wire.close();
  const plain = VmcpConfigSchema.parse({
    name: "t",
    backends: [{ name: "b", url: "http://127.0.0.1:1/mcp" }],
  });
  assert.equal(wire(plain.backends[0]!, plain), undefined);
});
