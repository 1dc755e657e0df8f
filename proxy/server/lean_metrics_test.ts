import assert from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { LeanCounter, LeanHistogram } from "./lean_metrics.ts";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

Deno.test("lean counter and histogram scrape exactly like prom-client's", async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const c1 = new LeanCounter("x_requests_total", "Requests.", ["method", "status"], ours);
  const c2 = new Counter({
    name: "x_requests_total",
    help: "Requests.",
    labelNames: ["method", "status"],
    registers: [theirs],
  });
  const h1 = new LeanHistogram("x_seconds", "Durations.", ["backend", "method"], BUCKETS, ours);
  const h2 = new Histogram({
    name: "x_seconds",
    help: "Durations.",
    labelNames: ["backend", "method"],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const values = [0, 0.0005, 0.001, 0.0011, 0.003, 0.07, 0.5, 2, 29.9, 30, 31, 1e6];
  for (const [b, m] of [["web", "tools/call"], ["db", "tools/call"], ["web", 'we"ird\\']]) {
    values.forEach((v, i) => {
      h1.labels(b!, m!).observe(v * (i % 3 + 1));
      h2.labels(b!, m!).observe(v * (i % 3 + 1));
      c1.labels(m!, i % 2 ? "ok" : "error").inc();
      c2.labels(m!, i % 2 ? "ok" : "error").inc();
    });
  }
  assert.equal(await ours.metrics(), await theirs.metrics());

  h1.removeWhereFirst("web");
  h2.remove({ backend: "web", method: "tools/call" });
  h2.remove({ backend: "web", method: 'we"ird\\' });
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(
    await ours.metrics(),
    /x_seconds_bucket\{le="0\.001",backend="db",method="tools\/call"\} 2/,
  );
});

Deno.test("lean metrics refuse the wrong number of label values", () => {
  const c = new LeanCounter("y_total", "Y.", ["a", "b"], new Registry());
  assert.throws(() => c.labels("only-one"), /expected 2 label values, got 1/);
});
