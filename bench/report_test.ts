import assert from "node:assert/strict";
import { percentile, summarize } from "./stats.ts";
import { type BenchReport, markdown, svgChart } from "./report.ts";
import { type ResultRow, withRatios } from "./types.ts";

Deno.test("percentiles are nearest-rank over sorted samples and throughput is per second", () => {
  const s = summarize([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 1, 2);
  assert.equal(s.p50, 5);
  assert.equal(s.p90, 9);
  assert.equal(s.p99, 10);
  assert.equal(s.throughput, 5);
  assert.equal(s.errors, 1);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

Deno.test("ratios divide the subject by the baseline and a missed target is marked MISSED", () => {
  const base: ResultRow = {
    scenario: "s",
    metric: "m",
    subject: "direct",
    p50: 1,
    throughput: 100,
  };
  const row = withRatios({ ...base, subject: "vmcp", p50: 2, throughput: 50 }, base);
  assert.equal(row.p50Ratio, 2);
  assert.equal(row.throughputRatio, 0.5);
  row.target = { text: "p50 ≤ 1.5× direct", met: false, on: "p50" };
  const rep: BenchReport = {
    startedAt: "t",
    seconds: 1,
    machine: { cpus: 2, memGiB: 1, deno: "x", os: "y" },
    sizes: {},
    proxies: [],
    scenarios: [{ name: "s", rows: [base, row], skipped: ["toolhive: <no binary>"], notes: [] }],
    notes: [],
  };
  const md = markdown(rep);
  assert.match(md, /p50 2\.00×, thr 0\.50× \| p50 ≤ 1\.5× direct: \*\*MISSED\*\*/);
  assert.match(md, /1 target\(s\) MISSED/);
  const svg = svgChart(rep);
  assert.match(svg, /2× MISSED/);
  assert.match(svg, /0\.5×</, "the throughput bar is not the one marked MISSED");
  assert.ok(!svg.includes("<no binary>"));
});
