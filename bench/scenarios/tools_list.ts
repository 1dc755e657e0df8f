/**
 * Scenario 2: `initialize` and `tools/list` across many backends (default 20 × 50 tools):
 * cold (the first list on a new session) and cached (repeated lists on one session), then the
 * same with one more backend that accepts connections and never answers. The baseline is one
 * backend of the same kind (50 tools) reached directly. Target (vmcp): cached tools/list p50
 * ≤ 2 ms.
 * @module
 */

import { closeClient, connectClient, listTools, runLoad } from "../load.ts";
import { emptyResult, metered, startProxies, statsRow } from "../measure.ts";
import { summarize } from "../stats.ts";
import { type BackendSpec, directSubject, type Subject } from "../targets.ts";
import { type BenchContext, type ResultRow, type ScenarioResult, withRatios } from "../types.ts";

export const name = "tools_list";
export const order = 2;
export const description =
  "initialize and tools/list (cold and cached) across 20 backends × 50 tools, also with one hung";

/** Per-request timeout; a proxy may hold initialize until a hung backend times out. */
const TIMEOUT_MS = 60_000;
/** Time budget of each sequential session loop (a proxy may take ~40 s per session). */
const LOOP_BUDGET_MS = 120_000;

/** `n` sessions measuring initialize only, then `n` measuring the first tools/list. */
async function sessionRows(
  ctx: BenchContext,
  subject: Subject,
  setup: string,
): Promise<ResultRow[]> {
  const n = ctx.sizes.listSessions;
  const init: number[] = [];
  const cold: number[] = [];
  let initErrors = 0, coldErrors = 0;
  const warm = await connectClient(subject.url, "bench-warm", TIMEOUT_MS).catch(() => undefined);
  if (warm) {
    await warm.listTools(undefined, { timeout: TIMEOUT_MS }).catch(() => {});
    await closeClient(warm);
  }
  const t0 = performance.now();
  const mInit = await metered(subject.pid, async () => {
    for (let i = 0; i < n && !ctx.signal.aborted && performance.now() - t0 < LOOP_BUDGET_MS; i++) {
      const start = performance.now();
      try {
        const client = await connectClient(subject.url, "bench-init", TIMEOUT_MS);
        init.push(performance.now() - start);
        await closeClient(client);
      } catch {
        initErrors++;
      }
    }
    return summarize(init, initErrors, (performance.now() - t0) / 1000);
  });
  const t1 = performance.now();
  const mCold = await metered(subject.pid, async () => {
    for (let i = 0; i < n && !ctx.signal.aborted && performance.now() - t1 < LOOP_BUDGET_MS; i++) {
      try {
        const client = await connectClient(subject.url, "bench-cold", TIMEOUT_MS);
        try {
          const start = performance.now();
          await listTools(TIMEOUT_MS)(client, i);
          cold.push(performance.now() - start);
        } finally {
          await closeClient(client);
        }
      } catch {
        coldErrors++;
      }
    }
    return summarize(cold, coldErrors, (performance.now() - t1) / 1000);
  });
  const initRow = statsRow(name, `initialize (${setup})`, subject, mInit);
  const coldRow = statsRow(name, `tools/list cold (${setup})`, subject, mCold);
  coldRow.note = "CPU/RSS of the cold row include opening and closing each session";
  return [initRow, coldRow];
}

async function cachedRow(ctx: BenchContext, subject: Subject, setup: string) {
  const m = await metered(subject.pid, () =>
    runLoad({
      url: subject.url,
      concurrency: 1,
      calls: ctx.sizes.listCalls,
      warmup: Math.ceil(ctx.sizes.listCalls / 10),
      maxSeconds: ctx.sizes.maxSeconds,
      op: listTools(TIMEOUT_MS),
      timeoutMs: TIMEOUT_MS,
      signal: ctx.signal,
    }));
  return statsRow(name, `tools/list cached (${setup})`, subject, m);
}

async function measureAll(ctx: BenchContext, subject: Subject, setup: string) {
  ctx.log(`${name}: ${subject.label} ${setup}`);
  return [...(await sessionRows(ctx, subject, setup)), await cachedRow(ctx, subject, setup)];
}

/**
 * 50 Cedar policies in ToolHive's form that let the (anonymous) caller see every tool, so the
 * list has the same size as without authorization: one permit per backend (`resource in
 * Backend::…`), per-tool permits, and a forbid on destructive tools (none here).
 */
function authzPolicies(backends: string[], tools: number): string[] {
  const out = backends.map((b) =>
    `permit(principal, action == Action::"call_tool", resource in Backend::"${b}");`
  );
  for (let i = 0; out.length < 49; i++) {
    const b = backends[i % backends.length]!;
    out.push(
      `permit(principal, action == Action::"call_tool", resource == Tool::"${b}_tool_${
        i % Math.max(1, tools)
      }");`,
    );
  }
  out.push(
    "forbid(principal, action, resource) when { resource has destructiveHint && resource.destructiveHint == true && !(principal has claim_admin) };",
  );
  return out;
}

async function runSetup(
  ctx: BenchContext,
  result: ScenarioResult,
  hung: boolean,
  authz = false,
) {
  const { listBackends, listTools: tools } = ctx.sizes;
  const setup = `${listBackends}×${tools}${hung ? " + 1 hung" : ""}${
    authz ? " + 50 Cedar policies" : ""
  }`;
  const specs: BackendSpec[] = Array.from({ length: listBackends }, (_, i) => ({
    name: `b${String(i).padStart(2, "0")}`,
    tools,
    builtins: false,
  }));
  if (hung) specs.push({ name: "hung", hung: true });
  const backends = await ctx.startBackends(specs);
  const list = specs.map((s) => ({ name: s.name, url: backends.urls[s.name]! }));
  // With a hung backend both proxies are told to serve what is available (best_effort) and to
  // give up on a backend after 5 s; their default ("fail") would refuse every request.
  const operational = {
    timeouts: { default: "5s" },
    failureHandling: { partialFailureMode: "best_effort" },
  };
  // Authorization is vmcp's (incomingAuth.authzConfig): only vmcp runs that setup.
  const incomingAuth = {
    type: "anonymous",
    authzConfig: {
      type: "inline",
      inline: { policies: authzPolicies(specs.map((s) => s.name), tools) },
    },
  };
  const started = await startProxies(
    authz ? { ...ctx, proxies: ctx.proxies.filter((p) => p.kind === "vmcp") } : ctx,
    result,
    list,
    listBackends * tools,
    hung ? { operational } : authz ? { incomingAuth } : undefined,
    180_000,
  );
  try {
    const base = await measureAll(ctx, directSubject(backends, specs[0]!.name), setup);
    result.rows.push(...base);
    for (const { proxy, subject } of started) {
      try {
        const rows = (await measureAll(ctx, subject, setup)).map((r, i) => withRatios(r, base[i]));
        const cached = rows[2]!;
        if (proxy.kind === "vmcp") {
          cached.target = {
            text: "cached tools/list p50 ≤ 2 ms",
            met: (cached.p50 ?? NaN) <= 2,
            on: "p50",
          };
        }
        result.rows.push(...rows, {
          scenario: name,
          metric: `start → ready (${setup})`,
          subject: subject.label,
          value: (subject.readyMs ?? NaN) / 1000,
          unit: "s",
          note: "from spawning the proxy to the first listing of all tools",
        });
      } catch (err) {
        result.skipped.push(`${proxy.label} ${setup}: ${err instanceof Error ? err.message : err}`);
      }
    }
  } finally {
    await Promise.all(started.map((s) => s.subject.stop()));
    await backends.stop();
  }
}

export async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const result = emptyResult(name);
  await runSetup(ctx, result, false);
  await runSetup(ctx, result, false, true);
  await runSetup(ctx, result, true);
  result.notes.push(
    `direct = one backend with ${ctx.sizes.listTools} tools; proxies aggregate ` +
      `${ctx.sizes.listBackends} such backends (${ctx.sizes.listBackends * ctx.sizes.listTools} ` +
      `tools); "+ 50 Cedar policies" is vmcp with incomingAuth.authzConfig (every tool ` +
      "visible to the caller, so the list is as large; each list is filtered per caller); " +
      `"+ 1 hung" adds a backend that never answers (proxies then run with ` +
      "operational.failureHandling.partialFailureMode best_effort and a 5 s backend timeout). " +
      `${ctx.sizes.listSessions} new sessions for initialize and for cold lists (sequential), ` +
      `${ctx.sizes.listCalls} cached lists on one session; request timeout ${
        TIMEOUT_MS / 1000
      } s; each session loop stops ` +
      `after ${LOOP_BUDGET_MS / 1000} s.`,
  );
  return result;
}
