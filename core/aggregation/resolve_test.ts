import assert from "node:assert/strict";
import { aggregate } from "./aggregate.ts";
import { matchResource, resolveToolRef } from "./resolve.ts";
import { aggregation, backend } from "./testing.ts";

const caps = [
  backend("weather", ["search", "forecast"]),
  backend("notes", ["search", "find"]),
  backend("my.backend", ["do.it"]),
];

Deno.test("resolveToolRef finds an advertised name", () => {
  const v = aggregate(caps, undefined);
  const r = resolveToolRef(v, "weather_search")!;
  assert.equal(r.backend, "weather");
  assert.equal(r.originalName, "search");
});

Deno.test("resolveToolRef resolves backend.originalTool under every strategy", () => {
  const configs = [
    undefined,
    aggregation({ conflictResolutionConfig: { prefixFormat: "x-{workload}-" } }),
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["weather"] },
    }),
    aggregation({
      conflictResolution: "manual",
      tools: [{
        workload: "notes",
        excludeAll: false,
        overrides: { search: { name: "note_search" } },
      }],
    }),
  ];
  for (const cfg of configs) {
    const v = aggregate(caps, cfg);
    const r = resolveToolRef(v, "notes.search");
    assert.ok(r, `notes.search under ${cfg?.conflictResolution}`);
    assert.equal(r.backend, "notes");
    assert.equal(r.originalName, "search");
    assert.equal(resolveToolRef(v, "weather.search")!.backend, "weather");
  }
});

Deno.test("resolveToolRef reaches a tool that lost a priority conflict, marked hidden", () => {
  const v = aggregate(
    caps,
    aggregation({
      conflictResolution: "priority",
      conflictResolutionConfig: { prefixFormat: "{workload}_", priorityOrder: ["weather"] },
    }),
  );
  assert.equal(v.toolRoutes.get("search")!.backend, "weather");
  const r = resolveToolRef(v, "notes.search")!;
  assert.equal(r.hidden, true);
  assert.equal(r.backend, "notes");
});

Deno.test("resolveToolRef handles dots in backend and tool names and reaches filtered tools", () => {
  const v = aggregate(caps, aggregation({ excludeAllTools: true }));
  const r = resolveToolRef(v, "my.backend.do.it")!;
  assert.equal(r.backend, "my.backend");
  assert.equal(r.originalName, "do.it");
  assert.equal(r.hidden, true);
});

Deno.test("resolveToolRef returns undefined for unknown references", () => {
  const v = aggregate(caps, undefined);
  assert.equal(resolveToolRef(v, "nope"), undefined);
  assert.equal(resolveToolRef(v, "weather.nope"), undefined);
  assert.equal(resolveToolRef(v, ".search"), undefined);
  assert.equal(resolveToolRef(v, "weather."), undefined);
});

const resCaps = [
  backend("files", [], {
    resources: [{ uri: "file:///readme", name: "readme" }],
    resourceTemplates: [{ uriTemplate: "file:///{+path}", name: "any file" }],
  }),
  backend("db", [], {
    resourceTemplates: [
      { uriTemplate: "db://{table}/{id}", name: "row" },
      { uriTemplate: "db://{table}", name: "table" },
    ],
  }),
  backend("alt", [], { resourceTemplates: [{ uriTemplate: "file:///docs/{name}", name: "docs" }] }),
];

Deno.test("matchResource prefers the exact URI, then the exact template string, then a template match", () => {
  const v = aggregate(resCaps, undefined);
  assert.equal(matchResource(v, "file:///readme"), "files");
  assert.equal(matchResource(v, "db://{table}/{id}"), "db");
  assert.equal(matchResource(v, "file:///{+path}"), "files");
  assert.equal(matchResource(v, "db://users/42"), "db");
  assert.equal(matchResource(v, "db://users"), "db");
  assert.equal(matchResource(v, "file:///notes.txt"), "files");
  assert.equal(matchResource(v, "http://example.com/"), undefined);
});

Deno.test("matchResource tries templates in sorted order, so the first sorted match wins", () => {
  const v = aggregate(resCaps, undefined);
  // "file:///docs/{name}" sorts before "file:///{+path}" and both match.
  assert.deepEqual(v.templateRoutes.map((t) => t.uriTemplate), [
    "db://{table}",
    "db://{table}/{id}",
    "file:///docs/{name}",
    "file:///{+path}",
  ]);
  assert.equal(matchResource(v, "file:///a/b"), "files");
  assert.equal(matchResource(v, "file:///docs/intro"), "alt");
  assert.equal(
    matchResource(aggregate([...resCaps].reverse(), undefined), "file:///docs/intro"),
    "alt",
  );
});
