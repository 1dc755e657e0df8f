/**
 * A labelled counter and histogram for the hot path that plug into a prom-client `Registry`
 * (they implement the `get()` it reads at scrape time). prom-client's own label children hash
 * their label object on every `inc`/`observe`; these keep one record per label set, so a call
 * costs an array update. The text a scrape produces is the same as prom-client's
 * (`lean_metrics_test.ts` compares them).
 * @module
 */
import type { Registry } from "prom-client";

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Collected {
  name: string;
  help: string;
  type: string;
  values: MetricValue[];
  aggregator: string;
}

abstract class LeanMetric<S> {
  readonly aggregator = "sum";
  abstract readonly type: string;
  protected readonly series = new Map<string, { labels: Record<string, string>; s: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract fresh(): S;

  /** The series of these label values (created at zero on first use). */
  protected child(values: readonly string[]): S {
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) {
      if (values.length !== this.labelNames.length) {
        throw new RangeError(
          `${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`,
        );
      }
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => labels[n] = values[i]!);
      this.series.set(key, entry = { labels, s: this.fresh() });
    }
    return entry.s;
  }

  /** Drops every series whose first label value is `value`. */
  removeWhereFirst(value: string): void {
    for (const [key, e] of this.series) {
      if (e.labels[this.labelNames[0]!] === value) this.series.delete(key);
    }
  }

  reset(): void {
    this.series.clear();
  }

  protected abstract values(): MetricValue[];

  get(): Promise<Collected> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    });
  }
}

/** A counter child: `inc()`. */
export interface CounterChild {
  inc(by?: number): void;
}

class CounterSeries implements CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class LeanCounter extends LeanMetric<CounterSeries> {
  readonly type = "counter";
  protected fresh(): CounterSeries {
    return new CounterSeries();
  }
  labels(...values: string[]): CounterChild {
    return this.child(values);
  }
  protected values(): MetricValue[] {
    return [...this.series.values()].map((e) => ({ labels: e.labels, value: e.s.value }));
  }
}

/** A histogram child: `observe(value)`. */
export interface HistogramChild {
  observe(value: number): void;
}

class HistogramSeries implements HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class LeanHistogram extends LeanMetric<HistogramSeries> {
  readonly type = "histogram";
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  protected fresh(): HistogramSeries {
    return new HistogramSeries(this.buckets);
  }

  labels(...values: string[]): HistogramChild {
    return this.child(values);
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, s } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        out.push({
          labels: { le, ...labels },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      out.push({
        labels: { le: "+Inf", ...labels },
        value: s.count,
        metricName: `${this.name}_bucket`,
      });
      out.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      out.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
