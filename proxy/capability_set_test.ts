import assert from "node:assert/strict";
import {
  capabilitySetOf,
  capabilitySetOfText,
  MAX_MEMBERS,
  normalizeCapabilities,
} from "./capability_set.ts";

Deno.test("normalizeCapabilities() keeps what a backend can branch on, in sorted order", () => {
  const set = normalizeCapabilities({
    sampling: { tools: {}, context: {} },
    roots: { listChanged: true },
    elicitation: { url: {}, form: { extra: 1 } },
    experimental: { anything: {} },
    unknown: {},
  });
  assert.equal(
    set.key,
    '{"elicitation":{"form":{},"url":{}},"roots":{"listChanged":true},"sampling":{"context":{},"tools":{}}}',
  );
  assert.deepEqual(set.capabilities, JSON.parse(set.key));
});

Deno.test("normalizeCapabilities() gives equal sets equal keys whatever the order and values", () => {
  const a = normalizeCapabilities({ roots: { listChanged: true, note: "x" }, sampling: {} });
  const b = normalizeCapabilities({ sampling: { n: 3 }, roots: { listChanged: true } });
  assert.equal(a.key, b.key);
  assert.notEqual(a.key, normalizeCapabilities({ sampling: {} }).key);
  assert.equal(normalizeCapabilities(undefined).key, "{}");
  assert.equal(normalizeCapabilities("junk").key, "{}");
  assert.equal(normalizeCapabilities({ roots: "yes" }).key, "{}");
});

Deno.test("normalizeCapabilities() stays bounded whatever a client sends", () => {
  const wide: Record<string, unknown> = {};
  for (let i = 0; i < 1000; i++) wide[`ext-${String(i).padStart(4, "0")}`] = {};
  wide["x".repeat(10_000)] = {};
  let deep: Record<string, unknown> = {};
  const root = deep;
  for (let i = 0; i < 100; i++) deep = (deep.d = {}) as Record<string, unknown>;
  const set = normalizeCapabilities({ extensions: wide, tasks: root });
  const ext = (set.capabilities as Record<string, Record<string, unknown>>).extensions!;
  assert.equal(Object.keys(ext).length, MAX_MEMBERS);
  assert.ok(set.key.length < 2000, String(set.key.length));
});

Deno.test("capabilitySetOf() remembers the set per capabilities object", () => {
  const caps = { roots: {} };
  assert.equal(capabilitySetOf(caps), capabilitySetOf(caps));
  assert.equal(capabilitySetOf(undefined).key, "{}");
});

Deno.test("capabilitySetOfText() gives every object parsed from one text the same set, never serialized", () => {
  const text = '{"roots":{"listChanged":true}}';
  const a = JSON.parse(text), b = JSON.parse(text);
  const set = capabilitySetOfText(text, a);
  assert.equal(capabilitySetOfText(text, b), set);
  assert.equal(capabilitySetOf(b), set);
  assert.equal(JSON.stringify(b), text);
});
