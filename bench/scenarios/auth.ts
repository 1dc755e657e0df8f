/**
 * Scenario 4 (auth): what authentication adds to a tools/call — OIDC JWT verification of the
 * caller plus a cached RFC 8693 exchanged token towards the backend — versus the same proxy
 * anonymous and unauthenticated. Runs `bench/auth_bench.ts` (which starts its own issuer, token
 * endpoint, backend and two proxies) as a child process and records its numbers.
 * Target: ≤ 50 µs added per call.
 * @module
 */
import type { BenchContext, ResultRow, ScenarioResult } from "../types.ts";

export const name = "auth";
export const order = 4;
export const description =
  "tools/call with OIDC + cached token exchange vs unauthenticated (added µs per call)";

interface Stats {
  n: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const calls = Math.max(200, Math.min(ctx.sizes.calls, 2000));
  ctx.log(`auth: ${calls} calls × 3 rounds per side`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../auth_bench.ts", import.meta.url).pathname,
      `--calls=${calls}`,
      "--rounds=3",
      "--micro=5000",
    ],
    stdout: "piped",
    stderr: "null",
    signal: ctx.signal,
  }).output();
  if (!out.success) {
    return { name, rows: [], skipped: [`auth_bench.ts exited ${out.code}`], notes: [] };
  }
  const r = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    components: { added_p50_us: number };
    endToEnd: {
      unauthenticated: Stats;
      oidc_plus_cached_token_exchange: Stats;
      added_p50_us: number;
      tokenExchangesDuringRun: number;
    };
  };
  const row = (subject: string, s: Stats): ResultRow => ({
    scenario: name,
    metric: "tools/call c=1 (in-process proxy)",
    subject,
    p50: s.p50_us / 1000,
    p90: s.p90_us / 1000,
    p99: s.p99_us / 1000,
    count: s.n,
    errors: 0,
  });
  const base = row("direct", r.endToEnd.unauthenticated);
  base.note = "baseline: the same proxy, anonymous and unauthenticated";
  const authed = row("vmcp", r.endToEnd.oidc_plus_cached_token_exchange);
  authed.p50Ratio = authed.p50! / base.p50!;
  authed.note = "OIDC incoming + cached token exchange outgoing";
  const added = r.components.added_p50_us;
  return {
    name,
    skipped: [],
    notes: [
      `end to end the p50 difference was ${r.endToEnd.added_p50_us} µs; token exchanges during the run: ${r.endToEnd.tokenExchangesDuringRun}`,
    ],
    rows: [
      base,
      authed,
      {
        scenario: name,
        metric: "auth added per call (JWT verify + cached exchanged-token headers, p50)",
        subject: "vmcp",
        value: added,
        unit: "µs",
        target: { text: "≤ 50 µs added", met: added <= 50, on: "value" },
      },
    ],
  };
}
