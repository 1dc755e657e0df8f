/**
 * The analysis and markdown report of `soak.ts`: client-side call records joined with the
 * backend's execution log.
 * @module
 */
import type { Execution } from "../tests/recovery/backend_proc.ts";

/** One `b_work` call as the client saw it (times in ms from the start of the load). */
export interface CallRecord {
  client: string;
  seq: number;
  start: number;
  end: number;
  ok: boolean;
  /** The answer named another call (client, seq) than the one sent. */
  misrouted?: boolean;
  code?: number | undefined;
  message?: string;
  /** `error.data.outcome` of a -32003: "unknown" (may have run) or "not-sent". */
  outcome?: string | undefined;
}

/** One scripted outage: `target` goes down at `at` s for `down` s. */
export interface ChaosEvent {
  target: "backend" | "redis" | "replica";
  at: number;
  down: number;
  /** Filled in by the run: ms from the start when it went down / came back. */
  downAt?: number;
  upAt?: number;
}

const TARGETS = new Set(["backend", "redis", "replica"]);

/** Parses `backend@8+5,redis@18+3`; undefined: backend, redis, replica at 20/45/70% of `seconds`. */
export function parseChaos(spec: string | undefined, seconds: number): ChaosEvent[] {
  if (spec === undefined) {
    return [
      { target: "backend", at: Math.round(seconds * 0.2), down: 5 },
      { target: "redis", at: Math.round(seconds * 0.45), down: 3 },
      { target: "replica", at: Math.round(seconds * 0.7), down: 5 },
    ];
  }
  if (spec.trim() === "" || spec === "none") return [];
  const events = spec.split(",").map((part) => {
    const m = part.trim().match(/^(\w+)@(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)$/);
    if (!m || !TARGETS.has(m[1]!)) {
      throw new Error(
        `--chaos: "${part}" must be target@start+down in seconds, target one of backend, redis, replica (e.g. backend@8+5)`,
      );
    }
    return { target: m[1] as ChaosEvent["target"], at: Number(m[2]), down: Number(m[3]) };
  });
  return events.sort((a, b) => a.at - b.at);
}

/** Numbers, ids and ports out, so equal failures group together. */
export function normalizeMessage(message: string): string {
  return message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>")
    .replace(/\d+(\.\d+)?/g, "N")
    .slice(0, 180);
}

/** Seconds after an event's recovery during which failures are still attributed to it. */
export const ATTRIBUTION_S = 30;

/** The event a failure at `t` ms belongs to: the latest one down before `t` and not long over. */
export function eventOf(events: readonly ChaosEvent[], t: number): ChaosEvent | undefined {
  let found: ChaosEvent | undefined;
  for (const ev of events) {
    if (ev.downAt === undefined || t < ev.downAt) continue;
    const over = (ev.upAt ?? Infinity) + ATTRIBUTION_S * 1000;
    if (t <= over) found = ev;
  }
  return found;
}

const key = (client: string, seq: number) => `${client}#${seq}`;

export interface Integrity {
  /** Answered ok but no execution logged. */
  lost: number;
  /** Executed more than once. */
  duplicated: number;
  /** Answered with another call's result. */
  misrouted: number;
  /** Executed, but the client got an error: said "outcome unknown" (correct) / said otherwise. */
  executedFailedUnknown: number;
  executedFailedOther: number;
  /** Executions of calls no client made. */
  phantom: number;
  /** Up to 5 duplicated calls: the client's record and the executions (for the report). */
  duplicates: { call: CallRecord; runs: Execution[] }[];
}

export function integrity(
  calls: readonly CallRecord[],
  executions: readonly Execution[],
): Integrity {
  const runs = new Map<string, number>();
  for (const e of executions) {
    runs.set(key(e.client, e.seq), (runs.get(key(e.client, e.seq)) ?? 0) + 1);
  }
  const made = new Set(calls.map((c) => key(c.client, c.seq)));
  const out: Integrity = {
    lost: 0,
    duplicated: 0,
    misrouted: 0,
    executedFailedUnknown: 0,
    executedFailedOther: 0,
    phantom: 0,
    duplicates: [],
  };
  for (const c of calls) {
    const n = runs.get(key(c.client, c.seq)) ?? 0;
    if (n > 1) {
      out.duplicated++;
      if (out.duplicates.length < 5) {
        const runsOf = executions.filter((e) => e.client === c.client && e.seq === c.seq);
        out.duplicates.push({ call: c, runs: runsOf });
      }
    }
    if (c.ok) {
      if (n === 0) out.lost++;
      if (c.misrouted) out.misrouted++;
    } else if (n > 0) {
      if (c.outcome === "unknown") out.executedFailedUnknown++;
      else out.executedFailedOther++;
    }
  }
  for (const k of runs.keys()) if (!made.has(k)) out.phantom++;
  return out;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const s1 = (ms: number | undefined) => ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`;

export interface ReportInput {
  sessions: number;
  seconds: number;
  calls: readonly CallRecord[];
  events: readonly ChaosEvent[];
  executions: readonly Execution[];
  reopened: number;
  config: { interval: string; jsonResponse: boolean };
}

/** The markdown report. */
export function report(r: ReportInput): string {
  const ok = r.calls.filter((c) => c.ok);
  const failed = r.calls.filter((c) => !c.ok);
  const lat = ok.map((c) => c.end - c.start).sort((a, b) => a - b);
  const lines: string[] = [];
  lines.push(`# vmcp soak: ${r.sessions} sessions × ${r.seconds} s`, "");
  lines.push(
    `Two replicas (Redis session storage) behind the round-robin balancer, one backend; healthCheckInterval ${r.config.interval}; backend answers ${
      r.config.jsonResponse ? "JSON" : "SSE"
    }; ${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs.`,
    "",
  );
  lines.push("| calls | ok | failed | ok % | p50 ms | p99 ms | sessions reopened |");
  lines.push("|---:|---:|---:|---:|---:|---:|---:|");
  lines.push(
    `| ${r.calls.length} | ${ok.length} | ${failed.length} | ${
      (100 * ok.length / Math.max(1, r.calls.length)).toFixed(2)
    } | ${quantile(lat, 0.5).toFixed(1)} | ${quantile(lat, 0.99).toFixed(1)} | ${r.reopened} |`,
    "",
  );

  const integ = integrity(r.calls, r.executions);
  lines.push("## Integrity (backend execution log)", "");
  lines.push(
    "| lost | duplicated | misrouted | executed, failed as outcome unknown | executed, failed otherwise | phantom |",
  );
  lines.push("|---:|---:|---:|---:|---:|---:|");
  lines.push(
    `| ${integ.lost} | ${integ.duplicated} | ${integ.misrouted} | ${integ.executedFailedUnknown} | ${integ.executedFailedOther} | ${integ.phantom} |`,
    "",
  );

  for (const d of integ.duplicates) {
    lines.push(`- duplicated: ${JSON.stringify(d.call)} ran ${JSON.stringify(d.runs)}`);
  }
  if (integ.duplicates.length) lines.push("");

  lines.push("## Chaos events", "");
  lines.push(
    "| event | down at | back at | failed calls | first failure | last failure | first ok after back | recovered after back |",
  );
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|");
  const byEvent = new Map<ChaosEvent | undefined, CallRecord[]>();
  for (const c of failed) {
    const ev = eventOf(r.events, c.end);
    byEvent.set(ev, [...byEvent.get(ev) ?? [], c]);
  }
  for (const ev of r.events) {
    const f = byEvent.get(ev) ?? [];
    const firstOk = ev.upAt === undefined
      ? undefined
      : ok.filter((c) => c.start >= ev.upAt!).reduce((m, c) => Math.min(m, c.end), Infinity);
    const lastFail = f.reduce((m, c) => Math.max(m, c.end), -Infinity);
    const recovered = ev.upAt === undefined || f.length === 0 ? 0 : Math.max(0, lastFail - ev.upAt);
    lines.push(
      `| ${ev.target} @${ev.at}+${ev.down} s | ${s1(ev.downAt)} | ${s1(ev.upAt)} | ${f.length} | ${
        f.length ? s1(f.reduce((m, c) => Math.min(m, c.end), Infinity)) : "–"
      } | ${f.length ? s1(lastFail) : "–"} | ${
        firstOk === undefined || !Number.isFinite(firstOk) ? "–" : s1(firstOk - ev.upAt!)
      } | ${s1(recovered)} |`,
    );
  }
  const unattributed = byEvent.get(undefined)?.length ?? 0;
  lines.push(
    "",
    `Failures outside any event window (${ATTRIBUTION_S} s after recovery): ${unattributed}.`,
    "",
  );

  lines.push("## Failures by message", "");
  const groups = new Map<string, { n: number; code: string; events: Set<string> }>();
  for (const c of failed) {
    const k = normalizeMessage(c.message ?? "(no message)");
    const g = groups.get(k) ?? { n: 0, code: String(c.code ?? ""), events: new Set<string>() };
    g.n++;
    g.events.add(eventOf(r.events, c.end)?.target ?? "none");
    groups.set(k, g);
  }
  if (groups.size === 0) lines.push("No failed call.");
  else {
    lines.push("| count | code | events | message |");
    lines.push("|---:|---:|---|---|");
    for (const [k, g] of [...groups].sort((a, b) => b[1].n - a[1].n)) {
      lines.push(
        `| ${g.n} | ${g.code} | ${[...g.events].join(", ")} | ${k.replaceAll("|", "\\|")} |`,
      );
    }
  }
  return lines.join("\n");
}
