/**
 * Writes bench results: JSON (everything), a Markdown table and a hand-written SVG bar chart
 * of the ratios to the baseline, to `<dir>/latest.{json,md,svg}`.
 * @module
 */

import { join } from "node:path";
import { round } from "./stats.ts";
import type { ResultRow, ScenarioResult } from "./types.ts";

export interface BenchReport {
  startedAt: string;
  seconds: number;
  machine: {
    cpus: number;
    memGiB: number;
    deno: string;
    os: string;
    /** /proc/loadavg at start and end (other work on the machine skews absolute numbers). */
    loadavg?: string[];
  };
  sizes: unknown;
  proxies: { label: string; unavailable?: string }[];
  scenarios: ScenarioResult[];
  /** Setup problems (e.g. the peer build) worth keeping with the numbers. */
  notes: string[];
}

const fmt = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? "" : n.toFixed(digits);

function ratios(r: ResultRow): string {
  const parts: string[] = [];
  if (r.p50Ratio !== undefined) parts.push(`p50 ${fmt(r.p50Ratio)}×`);
  if (r.throughputRatio !== undefined) parts.push(`thr ${fmt(r.throughputRatio)}×`);
  if (r.valueRatio !== undefined) parts.push(`val ${fmt(r.valueRatio)}×`);
  return parts.join(", ");
}

function targetCell(r: ResultRow): string {
  if (!r.target) return "";
  return `${r.target.text}: ${r.target.met ? "met" : "**MISSED**"}`;
}

/** The Markdown report. */
export function markdown(rep: BenchReport): string {
  const lines = [
    `# vmcp benchmark — ${rep.startedAt}`,
    "",
    `Machine: ${rep.machine.cpus} CPUs, ${rep.machine.memGiB} GiB, Deno ${rep.machine.deno}, ` +
    `${rep.machine.os}, load average ${rep.machine.loadavg?.join(" → ") ?? "?"}. ` +
    `Run took ${Math.round(rep.seconds)} s. Loopback only; load generator, ` +
    "backends and proxy are separate processes sharing the same cores.",
    "",
    "Ratios are subject ÷ baseline (the backend reached directly) measured in the same run: " +
    "for latency lower is better, for throughput (thr) higher is better.",
    "",
    "| scenario | metric | subject | p50 ms | p90 ms | p99 ms | calls/s | errors | CPU s | " +
    "peak RSS MiB | value | ratio to direct | target |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const s of rep.scenarios) {
    for (const r of s.rows) {
      lines.push(
        `| ${r.scenario} | ${r.metric} | ${r.subject} | ${fmt(r.p50)} | ${fmt(r.p90)} | ` +
          `${fmt(r.p99)} | ${fmt(r.throughput, 0)} | ${r.errors ?? ""} | ${fmt(r.cpuSeconds)} | ` +
          `${r.peakRssKiB ? fmt(r.peakRssKiB / 1024, 1) : ""} | ` +
          `${r.value !== undefined ? `${fmt(r.value, 1)} ${r.unit ?? ""}` : ""} | ` +
          `${ratios(r)} | ${targetCell(r)} |`,
      );
    }
  }
  const extra: string[] = [];
  for (const s of rep.scenarios) {
    for (const k of s.skipped) extra.push(`- ${s.name}: skipped ${k}`);
    for (const n of s.notes) extra.push(`- ${s.name}: ${n}`);
    for (const r of s.rows) {
      if (r.note) extra.push(`- ${s.name} / ${r.metric} / ${r.subject}: ${r.note}`);
    }
  }
  for (const n of rep.notes) extra.push(`- ${n}`);
  if (extra.length) lines.push("", "## Notes", "", ...extra);
  const missed = rep.scenarios.flatMap((s) => s.rows).filter((r) => r.target && !r.target.met);
  lines.push(
    "",
    missed.length
      ? `**${missed.length} target(s) MISSED.**`
      : "All targets measured in this run were met.",
  );
  return lines.join("\n") + "\n";
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const COLORS = { p50: "#3b6fb6", throughput: "#3a9d5d", value: "#d9822b" } as const;

/** A horizontal bar chart of every ratio (1.0 = the baseline), drawn by hand. */
export function svgChart(rep: BenchReport): string {
  const bars: { label: string; kind: keyof typeof COLORS; ratio: number; missed: boolean }[] = [];
  for (const s of rep.scenarios) {
    for (const r of s.rows) {
      const label = `${r.scenario} · ${r.metric} · ${r.subject}`;
      const missed = (kind: keyof typeof COLORS) =>
        r.target !== undefined && !r.target.met && (r.target.on ?? kind) === kind;
      const add = (kind: keyof typeof COLORS, ratio: number | undefined) => {
        if (ratio !== undefined) bars.push({ label, kind, ratio, missed: missed(kind) });
      };
      add("p50", r.p50Ratio);
      add("throughput", r.throughputRatio);
      add("value", r.valueRatio);
    }
  }
  const labelW = 360, plotW = 420, barH = 14, gap = 6, top = 48;
  const height = top + bars.length * (barH + gap) + 30;
  const width = labelW + plotW + 110;
  const max = Math.max(2, ...bars.map((b) => Math.min(b.ratio, 20)));
  const x = (v: number) => labelW + (Math.min(v, max) / max) * plotW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">vmcp bench: ratio to direct ` +
    `(${esc(rep.startedAt)})</text>`,
  ];
  let lx = 8;
  for (const [kind, color] of Object.entries(COLORS)) {
    const text = kind === "p50"
      ? "p50 latency ×"
      : kind === "throughput"
      ? "throughput ×"
      : "value ×";
    out.push(`<rect x="${lx}" y="28" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${lx + 14}" y="37">${text}</text>`);
    lx += 110;
  }
  bars.forEach((b, i) => {
    const y = top + i * (barH + gap);
    out.push(
      `<text x="${labelW - 6}" y="${y + barH - 3}" text-anchor="end">${esc(b.label)}</text>`,
    );
    out.push(
      `<rect x="${labelW}" y="${y}" width="${(x(b.ratio) - labelW).toFixed(1)}" ` +
        `height="${barH}" fill="${COLORS[b.kind]}"/>`,
    );
    const txt = `${round(b.ratio)}×${b.missed ? " MISSED" : ""}`;
    out.push(
      `<text x="${(x(b.ratio) + 4).toFixed(1)}" y="${y + barH - 3}"` +
        `${b.missed ? ' fill="#c0392b" font-weight="bold"' : ""}>${txt}</text>`,
    );
  });
  const one = x(1).toFixed(1);
  out.push(
    `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${height - 24}" stroke="#333" ` +
      `stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${height - 10}" text-anchor="middle">1.0 = direct</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}

/** Writes latest.json, latest.md and latest.svg into `dir`; returns their paths. */
export async function writeReport(dir: string, rep: BenchReport): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const files = {
    json: join(dir, "latest.json"),
    md: join(dir, "latest.md"),
    svg: join(dir, "latest.svg"),
  };
  await Deno.writeTextFile(files.json, JSON.stringify(rep, roundReplacer, 2) + "\n");
  await Deno.writeTextFile(files.md, markdown(rep));
  await Deno.writeTextFile(files.svg, svgChart(rep));
  return Object.values(files);
}

function roundReplacer(_key: string, value: unknown): unknown {
  return typeof value === "number" ? round(value) : value;
}
