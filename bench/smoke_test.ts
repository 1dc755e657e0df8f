/**
 * A tiny run of the benchmark harness (seconds), so it cannot rot: scenario 1 at one client
 * with ~50 calls directly and, where vmcp starts, through it.
 */
import assert from "node:assert/strict";
import { QUICK_SIZES, runBench } from "./run.ts";
import { markdown, svgChart } from "./report.ts";
import type { ResultRow } from "./types.ts";

Deno.test("the harness measures tools/call directly and through vmcp with sane numbers and a ratio", async () => {
  const lines: string[] = [];
  const report = await runBench({
    scenarios: ["tools_call"],
    proxies: ["vmcp"],
    sizes: { ...QUICK_SIZES, calls: 50, warmup: 10, concurrency: [1], maxSeconds: 15 },
    log: (l) => lines.push(l),
  });
  const [scenario] = report.scenarios;
  assert.ok(scenario, "one scenario ran");
  assert.equal(scenario.name, "tools_call");
  const direct = scenario.rows.find((r) => r.subject === "direct");
  assert.ok(direct, `a direct row exists (log: ${lines.join(" | ")})`);
  assert.equal(direct.count, 50);
  assert.equal(direct.errors, 0);
  assert.ok(direct.p50! > 0 && direct.p50! <= direct.p90! && direct.p90! <= direct.p99!);
  assert.ok(direct.throughput! > 0);
  assert.ok(direct.cpuSeconds! >= 0 && direct.peakRssKiB! > 10_000, "backend process metered");

  const floor = scenario.rows.find((r) => r.subject === "floor (bare forwarder)");
  assert.ok(floor, `the floor row exists (skipped: ${scenario.skipped.join("; ")})`);
  assert.equal(floor.errors, 0);
  assert.equal(floor.count, 50);
  assert.ok(Number.isFinite(floor.p50Ratio) && floor.p50Ratio! > 0, "floor ratio computed");
  assert.equal(floor.target, undefined, "the floor is a reference, not judged");

  const proxied = scenario.rows.find((r) => r.subject === "vmcp");
  if (proxied) {
    assert.equal(proxied.errors, 0);
    assert.ok(proxied.p50! > 0 && proxied.throughput! > 0);
    assert.ok(Number.isFinite(proxied.p50Ratio) && proxied.p50Ratio! > 0, "p50 ratio computed");
    assert.ok(Number.isFinite(proxied.throughputRatio), "throughput ratio computed");
    assert.equal(proxied.target?.text, "p50 ≤ 1.5× direct");
    assert.ok(proxied.peakRssKiB! > 10_000, "proxy process metered");
    const added = (proxied.p50! - floor.p50!).toFixed(3).replace("-", "−");
    assert.ok(
      scenario.notes.some((n) =>
        n.startsWith("vmcp vs floor at c=1: p50 ") && n.includes(added.replace("−", ""))
      ),
      `a note compares vmcp with the floor: ${scenario.notes.join(" | ")}`,
    );
    // Both eras with the raw-HTTP client: every call answered, the proxy's CPU metered, notes.
    for (
      const subject of [
        "direct (raw)",
        "floor (raw)",
        "vmcp (raw, 2025-11-25)",
        "vmcp (raw, 2026-07-28)",
      ]
    ) {
      const row: ResultRow | undefined = scenario.rows.find((r) => r.subject === subject);
      assert.ok(row, `a ${subject} row exists (skipped: ${scenario.skipped.join("; ")})`);
      assert.equal(row.errors, 0, `${subject}: ${row.note ?? ""}`);
      assert.equal(row.count, 50);
      assert.ok(row.cpuSeconds! >= 0 && row.p50! > 0, `${subject} measured`);
    }
    assert.ok(
      scenario.notes.some((n) =>
        /^vmcp raw 2026-07-28 vs 2025-11-25 at c=1: proxy CPU per call /.test(n)
      ),
      `a note compares the eras: ${scenario.notes.join(" | ")}`,
    );
  } else {
    // The proxy could not run: the reason must be recorded, not silently dropped.
    assert.ok(scenario.skipped.some((s) => s.startsWith("vmcp")), scenario.skipped.join("; "));
  }
  assert.match(markdown(report), /\| tools_call \| tools\/call c=1 \| direct \|/);
  assert.match(svgChart(report), /^<svg[\s\S]*<\/svg>\n$/);
});
