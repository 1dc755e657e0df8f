/**
 * Scenario 6: the controller against a real kube-apiserver. N VirtualMCPServers (default 500,
 * `VMCP_BENCH_CONTROLLER_COUNT`) are created; the baseline is the time the API server needs
 * to accept the creates alone, the subject the time until every server has its Deployment,
 * Service and ConfigMap. Target: all 500 reconciled within 60 s.
 * @module
 */
import { measureControllerScale } from "../controller_scale.ts";
import type { BenchContext, ScenarioResult } from "../types.ts";

export const name = "controller_scale";
export const order = 6;
export const description =
  "500 VirtualMCPServers on a real kube-apiserver: time until all have their children";

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const count = Number(Deno.env.get("VMCP_BENCH_CONTROLLER_COUNT") ?? 500);
  const r = await measureControllerScale(count, ctx.log);
  const seconds = r.totalMs / 1000;
  return {
    name,
    skipped: [],
    notes: [
      `${count} servers: API creates took ${
        (r.createdMs / 1000).toFixed(1)
      } s; children for all after ${seconds.toFixed(1)} s (${
        (count / seconds).toFixed(1)
      } reconciles/s)`,
    ],
    rows: [
      {
        scenario: name,
        metric: `create ${count} VirtualMCPServers (API only)`,
        subject: "direct",
        value: r.createdMs / 1000,
        unit: "s",
      },
      {
        scenario: name,
        metric: `${count} VirtualMCPServers reconciled to children`,
        subject: "vmcp",
        value: seconds,
        unit: "s",
        valueRatio: r.totalMs / r.createdMs,
        throughput: count / seconds,
        target: { text: `${count} reconciled ≤ 60 s`, met: seconds <= 60, on: "value" },
      },
    ],
  };
}
