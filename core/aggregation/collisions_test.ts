import assert from "node:assert/strict";
import { aggregate } from "./aggregate.ts";
import { aggregation, backend } from "./testing.ts";

Deno.test("a name left claimed by two backends after prefixing is reported, the first backend by name keeping it, whatever the input order", () => {
  const weather = backend("weather", ["get_forecast"]);
  const weatherGet = backend("weather_get", ["forecast"]);
  for (const caps of [[weather, weatherGet], [weatherGet, weather]]) {
    const v = aggregate(caps, aggregation());
    assert.deepEqual(v.tools.map((t) => t.name), ["weather_get_forecast"]);
    assert.equal(v.toolRoutes.get("weather_get_forecast")!.backend, "weather");
    assert.deepEqual(v.collisions, [{
      kind: "tool",
      name: "weather_get_forecast",
      kept: { backend: "weather", originalName: "get_forecast" },
      dropped: [{ backend: "weather_get", originalName: "forecast" }],
    }]);
  }
  assert.deepEqual(
    aggregate([weather, backend("other", ["get_forecast"])], aggregation()).collisions,
    [],
  );
});

Deno.test("under manual every claimant of a shared name is dropped and the collision names none kept; prompts are reported too", () => {
  const v = aggregate(
    [backend("a", ["x"], { promptNames: ["p"] }), backend("b", ["x"], { promptNames: ["p"] })],
    aggregation({ conflictResolution: "manual" }),
  );
  assert.deepEqual(v.collisions.map((c) => [c.kind, c.name, c.kept, c.dropped.length]), [
    ["tool", "x", undefined, 2],
    ["prompt", "p", undefined, 2],
  ]);
});
