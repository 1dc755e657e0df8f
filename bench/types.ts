/**
 * Contracts of the benchmark harness: the scenario plug-in interface, the context a scenario
 * gets, and the rows it records. A scenario is a module `bench/scenarios/<name>.ts` exporting
 * `name` (string), `run(ctx): Promise<ScenarioResult>` and optionally `description` and
 * `order` (position in a full run). `bench/run.ts` finds such modules by listing that folder.
 * @module
 */

import type { BackendSet, BackendSpec, Subject } from "./targets.ts";

/** Sizes of one bench run (flags of `bench/run.ts`). */
export interface BenchSizes {
  /** Measured tools/call requests per cell. */
  calls: number;
  /** Unmeasured warm-up requests per cell. */
  warmup: number;
  /** Concurrent client sessions for scenario 1. */
  concurrency: number[];
  /** Upper bound in seconds of each measured cell. */
  maxSeconds: number;
  /** Backends × tools of the listing scenario. */
  listBackends: number;
  listTools: number;
  /** New sessions measured for initialize / cold tools/list. */
  listSessions: number;
  /** Repeated (cached) tools/list requests measured. */
  listCalls: number;
  /** Idle sessions of the memory scenario. */
  idleSessions: number;
  /** Backends answer plain JSON instead of SSE streams. */
  jsonResponse: boolean;
}

/** Proxies under test, each compared with the backend reached directly. */
export type ProxyKind = "vmcp" | "toolhive";

/** A proxy that can be started in front of backends, or why it cannot. */
export interface ProxyTarget {
  kind: ProxyKind;
  /** Human label, e.g. "vmcp" or "toolhive v0.47.0". */
  label: string;
  /** Undefined when the target can run; else the reason it is skipped. */
  unavailable?: string;
  /**
   * Starts the proxy (a subprocess) in front of `backends`; `extra` top-level config keys
   * (e.g. `operational`, same shape in vmcp and ToolHive) are merged into its config.
   */
  start(
    backends: { name: string; url: string }[],
    extra?: Record<string, unknown>,
  ): Promise<Subject>;
}

/** What a scenario gets. */
export interface BenchContext {
  sizes: BenchSizes;
  proxies: ProxyTarget[];
  /** Starts test backends in a child process (killed by `stop()`). */
  startBackends(specs: BackendSpec[]): Promise<BackendSet>;
  /** Progress line on stderr. */
  log(message: string): void;
  /** Directory for child logs and configs of this run. */
  workDir: string;
  signal: AbortSignal;
}

/** A target a row is judged against. */
export interface Target {
  /** e.g. "p50 ≤ 1.5× direct". */
  text: string;
  met: boolean;
  /** Which of the row's ratios the target is about (the chart marks that bar). */
  on?: "p50" | "throughput" | "value";
}

/** One measured line of the results table. */
export interface ResultRow {
  scenario: string;
  /** What was measured, e.g. "tools/call c=16". */
  metric: string;
  /** "direct" (the baseline) or a proxy label. */
  subject: string;
  /** Latency in ms and throughput in calls/s, where the metric is a latency measurement. */
  p50?: number;
  p90?: number;
  p99?: number;
  throughput?: number;
  count?: number;
  errors?: number;
  /** A single-valued metric (e.g. KiB per idle session) and its unit. */
  value?: number;
  unit?: string;
  /** CPU seconds and peak RSS of the process under test during this row. */
  cpuSeconds?: number;
  peakRssKiB?: number;
  /** Ratios to the baseline row measured in the same run (subject / baseline). */
  p50Ratio?: number;
  throughputRatio?: number;
  valueRatio?: number;
  target?: Target;
  note?: string;
}

/** What a scenario returns. */
export interface ScenarioResult {
  name: string;
  rows: ResultRow[];
  /** Subjects or parts that could not run, with the reason. */
  skipped: string[];
  notes: string[];
}

/** The module shape of `bench/scenarios/<name>.ts`. */
export interface ScenarioModule {
  name: string;
  description?: string;
  /** Position in a full run (lower first; then by name). */
  order?: number;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}

/** Adds ratios of `row` to `base` (same metric, measured in the same run). */
export function withRatios(row: ResultRow, base: ResultRow | undefined): ResultRow {
  if (!base) return row;
  const r = { ...row };
  if (row.p50 !== undefined && base.p50) r.p50Ratio = row.p50 / base.p50;
  if (row.throughput !== undefined && base.throughput) {
    r.throughputRatio = row.throughput / base.throughput;
  }
  if (row.value !== undefined && base.value) r.valueRatio = row.value / base.value;
  return r;
}
