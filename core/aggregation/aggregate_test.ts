import assert from "node:assert/strict";
import { aggregate } from "./aggregate.ts";
import { aggregation, backend, tool } from "./testing.ts";
import type { AggregatedView } from "./types.ts";

const names = (v: AggregatedView) => v.tools.map((t) => t.name);
const route = (v: AggregatedView, n: string) => {
  const r = v.toolRoutes.get(n);
  return r && { backend: r.backend, originalName: r.originalName, hidden: r.hidden };
};

Deno.test("an omitted aggregation prefixes every tool with {workload}_, conflict or not", () => {
  const v = aggregate(
    [backend("weather", ["search", "forecast"]), backend("notes", ["search"])],
    undefined,
  );
  assert.deepEqual(names(v), ["notes_search", "weather_forecast", "weather_search"]);
  assert.deepEqual(route(v, "weather_search"), {
    backend: "weather",
    originalName: "search",
    hidden: false,
  });
  assert.deepEqual(v.problems, []);
  assert.deepEqual(v.warnings, []);
});

Deno.test("prefix uses a custom prefixFormat with literals around {workload}", () => {
  const v = aggregate(
    [backend("weather", ["search"]), backend("notes", ["search"])],
    aggregation({ conflictResolutionConfig: { prefixFormat: "mcp.{workload}." } }),
  );
  assert.deepEqual(names(v), ["mcp.notes.search", "mcp.weather.search"]);
});

Deno.test("prefix applies after overrides: an override echo→custom_echo on b1 advertises b1_custom_echo", () => {
  const v = aggregate(
    [backend("b1", ["echo"])],
    aggregation({
      tools: [{
        workload: "b1",
        excludeAll: false,
        overrides: { echo: { name: "custom_echo", description: "Echo it" } },
      }],
    }),
  );
  assert.deepEqual(names(v), ["b1_custom_echo"]);
  const r = v.toolRoutes.get("b1_custom_echo")!;
  assert.equal(r.originalName, "echo");
  assert.equal(r.tool.description, "Echo it");
  assert.deepEqual(r.tool.inputSchema, tool("echo").inputSchema);
});

Deno.test("a collision left after prefixing is kept by the backend that sorts first, with a warning", () => {
  const caps = [backend("a_b", ["c"]), backend("a", ["b_c"])];
  const v = aggregate(caps, undefined);
  assert.deepEqual(names(v), ["a_b_c"]);
  assert.deepEqual(route(v, "a_b_c"), { backend: "a", originalName: "b_c", hidden: false });
  assert.equal(v.warnings.length, 1);
  assert.match(v.warnings[0]!, /"a_b_c" is still claimed by "a\/b_c" and "a_b\/c"/);
  // The loser is still reachable in the backend.tool form, hidden.
  assert.equal(v.toolsByBackend.get("a_b")!.get("c")!.hidden, true);
  assert.deepEqual(aggregate([...caps].reverse(), undefined), v);
});

Deno.test("priority keeps unique names bare, even for unlisted backends", () => {
  const v = aggregate(
    [backend("weather", ["forecast"]), backend("notes", ["write"])],
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["notes"] },
    }),
  );
  assert.deepEqual(names(v), ["forecast", "write"]);
});

Deno.test("priority gives a shared name to the highest-ranked listed backend and drops the others with a warning", () => {
  const v = aggregate(
    [backend("weather", ["search"]), backend("notes", ["search"]), backend("zeta", ["search"])],
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["zeta", "weather"] },
    }),
  );
  assert.deepEqual(names(v), ["search"]);
  assert.deepEqual(route(v, "search"), { backend: "zeta", originalName: "search", hidden: false });
  assert.equal(v.warnings.length, 1);
  assert.match(
    v.warnings[0]!,
    /kept backend "zeta" \(priorityOrder\), dropped "notes\/search" and "weather\/search"/,
  );
  assert.equal(v.toolsByBackend.get("notes")!.get("search")!.hidden, true);
});

Deno.test("priority prefixes a conflict between unlisted backends with the CONFIGURED prefixFormat", () => {
  const v = aggregate(
    [backend("weather", ["search", "forecast"]), backend("notes", ["search"])],
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}__", priorityOrder: ["other"] },
    }),
  );
  assert.deepEqual(names(v), ["forecast", "notes__search", "weather__search"]);
  assert.match(
    v.warnings[0]!,
    /none of them in priorityOrder; advertised with prefixFormat as "notes__search" and "weather__search"/,
  );
});

Deno.test("priority resolves a fallback name that equals a bare name deterministically", () => {
  // notes/x and weather/x are unlisted → notes_x, weather_x; backend "zz" offers "notes_x" bare.
  const caps = [backend("weather", ["x"]), backend("notes", ["x"]), backend("zz", ["notes_x"])];
  const cfg = aggregation({
    conflictResolution: "priority",
    conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: [] },
  });
  const v = aggregate(caps, cfg);
  assert.deepEqual(names(v), ["notes_x", "weather_x"]);
  assert.deepEqual(route(v, "notes_x"), { backend: "notes", originalName: "x", hidden: false });
  assert.deepEqual(aggregate([caps[2]!, caps[0]!, caps[1]!], cfg), v);
});

Deno.test("manual keeps unique names and reports an unresolved conflict naming the tool and the backends", () => {
  const v = aggregate(
    [backend("weather", ["search", "forecast"]), backend("notes", ["search"])],
    aggregation({
      conflictResolution: "manual",
      tools: [{ workload: "notes", excludeAll: false }],
    }),
  );
  assert.deepEqual(names(v), ["forecast"]);
  assert.equal(v.toolRoutes.has("search"), false);
  assert.deepEqual(v.problems, [{
    path: "aggregation.tools",
    message:
      'Tool name "search" is offered by backends "notes" and "weather"; add overrides to resolve it',
    value: [{ backend: "notes", name: "search" }, { backend: "weather", name: "search" }],
  }]);
});

Deno.test("manual accepts a conflict resolved by an override and reports one that an override creates", () => {
  const resolved = aggregate(
    [backend("weather", ["search"]), backend("notes", ["search"])],
    aggregation({
      conflictResolution: "manual",
      tools: [{
        workload: "notes",
        excludeAll: false,
        overrides: { search: { name: "search_notes" } },
      }],
    }),
  );
  assert.deepEqual(names(resolved), ["search", "search_notes"]);
  assert.deepEqual(resolved.problems, []);
  const created = aggregate(
    [backend("notes", ["find", "search"])],
    aggregation({
      conflictResolution: "manual",
      tools: [{ workload: "notes", excludeAll: false, overrides: { find: { name: "search" } } }],
    }),
  );
  assert.equal(created.problems.length, 1);
  assert.match(
    created.problems[0]!.message,
    /Tool name "search" is offered by backend "notes" more than once \(original names "find" and "search"\)/,
  );
});

Deno.test("overrides apply before conflict resolution, so a rename can remove a priority conflict", () => {
  const v = aggregate(
    [backend("weather", ["search"]), backend("notes", ["search"])],
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["weather"] },
      tools: [{
        workload: "notes",
        excludeAll: false,
        overrides: { search: { name: "note_search" } },
      }],
    }),
  );
  assert.deepEqual(names(v), ["note_search", "search"]);
  assert.deepEqual(v.warnings, []);
});

Deno.test("the filter matches the post-override, pre-prefix name and hidden tools stay routable", () => {
  const v = aggregate(
    [backend("notes", ["find", "write", "delete"])],
    aggregation({
      tools: [{
        workload: "notes",
        excludeAll: false,
        filter: ["search", "write"],
        overrides: { find: { name: "search" } },
      }],
    }),
  );
  assert.deepEqual(names(v), ["notes_search", "notes_write"]);
  assert.deepEqual(route(v, "notes_delete"), {
    backend: "notes",
    originalName: "delete",
    hidden: true,
  });
  assert.deepEqual(v.warnings, []);
});

Deno.test("a filter naming an original name that an override renamed gets a warning", () => {
  const v = aggregate(
    [backend("notes", ["find"])],
    aggregation({
      tools: [{
        workload: "notes",
        excludeAll: false,
        filter: ["find"],
        overrides: { find: { name: "search" } },
      }],
    }),
  );
  assert.deepEqual(names(v), []);
  assert.match(
    v.warnings[0]!,
    /filter "find" of backend "notes" names an original tool that an override renamed to "search"/,
  );
});

Deno.test("excludeAll hides one backend's tools and excludeAllTools hides all, keeping every route", () => {
  const caps = [backend("weather", ["forecast"]), backend("notes", ["write"])];
  const one = aggregate(caps, aggregation({ tools: [{ workload: "weather", excludeAll: true }] }));
  assert.deepEqual(names(one), ["notes_write"]);
  assert.deepEqual(route(one, "weather_forecast"), {
    backend: "weather",
    originalName: "forecast",
    hidden: true,
  });
  const all = aggregate(caps, aggregation({ excludeAllTools: true }));
  assert.deepEqual(names(all), []);
  assert.equal(all.toolRoutes.size, 2);
  assert.ok([...all.toolRoutes.values()].every((r) => r.hidden));
});

Deno.test("an advertised tool keeps the backend's inputSchema, outputSchema and annotations", () => {
  const t = tool("get", "", {
    description: "orig",
    outputSchema: { type: "object", properties: { n: { type: "number" } } },
    annotations: { readOnlyHint: true },
  });
  const v = aggregate(
    [{ backend: "b", tools: [t], resources: [], resourceTemplates: [], prompts: [] }],
    aggregation({
      tools: [{ workload: "b", excludeAll: false, overrides: { get: { description: "new" } } }],
    }),
  );
  assert.deepEqual(v.tools[0], { ...t, name: "b_get", description: "new" });
  assert.equal(t.name, "get", "the input is not modified");
});

Deno.test("the same backends in any order give identical output", () => {
  const caps = [
    backend("weather", ["search", "forecast", "x"], {
      promptNames: ["p", "q"],
      resources: [{ uri: "file:///a", name: "a" }],
    }),
    backend("notes", ["search", "write", "x"], {
      promptNames: ["p"],
      resources: [{ uri: "file:///a", name: "a2" }],
    }),
    backend("alpha", ["x", "search"], {
      resourceTemplates: [{ uriTemplate: "t://{id}", name: "t" }],
    }),
    backend("beta", ["x"], { resourceTemplates: [{ uriTemplate: "t://{id}", name: "t2" }] }),
  ];
  const configs = [
    undefined,
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}.", priorityOrder: ["notes"] },
    }),
    aggregation({ conflictResolution: "manual" }),
  ];
  for (const cfg of configs) {
    const base = aggregate(caps, cfg);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...caps].sort(() => Math.random() - 0.5);
      assert.deepEqual(aggregate(shuffled, cfg), base);
    }
  }
});

Deno.test("resources and templates are never renamed and a duplicate goes to the backend sorting first", () => {
  const v = aggregate([
    backend("zeta", [], {
      resources: [{ uri: "file:///x", name: "zx" }, { uri: "file:///b", name: "b" }],
      resourceTemplates: [{ uriTemplate: "db://{t}", name: "z" }],
    }),
    backend("alpha", [], {
      resources: [{ uri: "file:///x", name: "ax" }],
      resourceTemplates: [{ uriTemplate: "db://{t}", name: "a" }],
    }),
  ], undefined);
  assert.deepEqual(v.resources.map((r) => [r.uri, r.name]), [["file:///b", "b"], [
    "file:///x",
    "ax",
  ]]);
  assert.deepEqual([...v.resourceRoutes], [["file:///b", "zeta"], ["file:///x", "alpha"]]);
  assert.deepEqual(v.templateRoutes, [{ uriTemplate: "db://{t}", backend: "alpha" }]);
  assert.equal(v.resourceTemplates[0]!.name, "a");
  assert.equal(v.warnings.length, 2);
  assert.match(
    v.warnings[0]!,
    /Resource URI "file:\/\/\/x" is offered by backends "alpha" and "zeta"; kept "alpha"/,
  );
});

Deno.test("prompts are prefixed under prefix, bare under priority when unique or listed, kept under manual", () => {
  const caps = [
    backend("weather", [], { promptNames: ["greet", "rain"] }),
    backend("notes", [], { promptNames: ["greet"] }),
  ];
  const pre = aggregate(
    caps,
    aggregation({ conflictResolutionConfig: { prefixFormat: "{workload}-" } }),
  );
  assert.deepEqual(pre.prompts.map((p) => p.name), [
    "notes-greet",
    "weather-greet",
    "weather-rain",
  ]);
  assert.deepEqual(pre.promptRoutes.get("notes-greet"), {
    backend: "notes",
    originalName: "greet",
  });

  const pri = aggregate(
    caps,
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["weather"] },
    }),
  );
  assert.deepEqual(pri.prompts.map((p) => p.name), ["greet", "rain"]);
  assert.deepEqual(pri.promptRoutes.get("greet"), { backend: "weather", originalName: "greet" });

  const man = aggregate([caps[0]!], aggregation({ conflictResolution: "manual" }));
  assert.deepEqual(man.prompts.map((p) => p.name), ["greet", "rain"]);
  const manConflict = aggregate(caps, aggregation({ conflictResolution: "manual" }));
  assert.deepEqual(manConflict.prompts.map((p) => p.name), ["rain"]);
  assert.equal(manConflict.problems[0]!.path, "aggregation.conflictResolution");
  assert.match(
    manConflict.problems[0]!.message,
    /Prompt name "greet" is offered by backends "notes" and "weather"; prompts cannot be renamed/,
  );
});

Deno.test("tools are sorted by advertised name and toolRoutes hold only advertised names", () => {
  const v = aggregate(
    [backend("b", ["zz", "aa", "mm"])],
    aggregation({ conflictResolution: "manual" }),
  );
  assert.deepEqual(names(v), ["aa", "mm", "zz"]);
  assert.deepEqual([...v.toolRoutes.keys()], ["aa", "mm", "zz"]);
});

Deno.test("an override for a tool the backend does not offer is warned about", () => {
  const v = aggregate(
    [backend("b", ["x"])],
    aggregation({ tools: [{ workload: "b", excludeAll: false, overrides: { y: { name: "z" } } }] }),
  );
  assert.deepEqual(v.warnings, ['aggregation.tools override "y" matches no tool of backend "b"']);
});

// How fast aggregation is belongs to `deno task bench` (bench/scenarios/tools_list.ts measures
// cold and cached tools/list over 20 backends × 50 tools); this test checks only the result.
Deno.test("20 backends × 50 tools aggregate to the same view on every call", () => {
  const caps = Array.from(
    { length: 20 },
    (_, b) => backend(`backend-${b}`, Array.from({ length: 50 }, (_, t) => `tool_${t}`)),
  );
  const configs = [
    { cfg: undefined, advertised: 1000 },
    {
      cfg: aggregation({
        conflictResolution: "priority",
        conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["backend-3"] },
      }),
      advertised: 50,
    },
  ];
  for (const { cfg, advertised } of configs) {
    const first = aggregate(caps, cfg);
    let v: AggregatedView | undefined;
    for (let i = 0; i < 20; i++) v = aggregate(caps, cfg);
    assert.equal(v!.tools.length, advertised);
    assert.equal(v!.toolsByBackend.get("backend-7")!.size, 50);
    assert.deepEqual(names(v!), names(first));
  }
});
