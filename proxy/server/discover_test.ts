import assert from "node:assert/strict";
import type { Lists } from "../router_state.ts";
import { Discover, type DiscoverBackend, SERVER_INFO_META_KEY } from "./discover.ts";

function source(backends: DiscoverBackend[], extra = false) {
  const s = {
    lists: { tools: [], resources: [], resourceTemplates: [], prompts: [] } as Lists,
    backends: () => backends,
    hasExtraTools: () => extra,
    instructions: () => undefined,
  };
  return s;
}

Deno.test("discover: capabilities are the union over routable backends", () => {
  const d = new Discover(
    source([
      { routable: true, capabilities: { tools: {}, resources: { subscribe: true }, logging: {} } },
      { routable: true, capabilities: { prompts: {}, completions: {} } },
      { routable: false, capabilities: { experimental: {}, tools: {} } },
      { routable: true, capabilities: undefined },
    ]),
    { name: "vmcp", version: "1.0.0" },
  );
  const r = d.result();
  assert.deepEqual(r.supportedVersions, ["2026-07-28"]);
  assert.deepEqual(r.capabilities, {
    tools: { listChanged: true },
    resources: { listChanged: true, subscribe: true },
    prompts: { listChanged: true },
    completions: {},
    logging: {},
  });
  assert.equal(r.resultType, "complete");
  assert.equal(r.ttlMs, 0);
  assert.equal(r.cacheScope, "private");
  assert.deepEqual((r._meta as Record<string, unknown>)[SERVER_INFO_META_KEY], {
    name: "vmcp",
    version: "1.0.0",
  });
});

Deno.test("discover: composite tools add tools; the answer is rebuilt only when the lists change", () => {
  const backends: DiscoverBackend[] = [{ routable: true, capabilities: { prompts: {} } }];
  const s = source(backends, true);
  const d = new Discover(s, { name: "vmcp", version: "1.0.0" });
  const first = d.result();
  assert.deepEqual(first.capabilities, {
    prompts: { listChanged: true },
    tools: { listChanged: true },
  });
  backends.push({ routable: true, capabilities: { resources: {} } });
  assert.equal(d.result(), first); // same lists: memoized
  s.lists = { ...s.lists };
  assert.deepEqual(Object.keys(d.result().capabilities as object).sort(), [
    "prompts",
    "resources",
    "tools",
  ]);
});
