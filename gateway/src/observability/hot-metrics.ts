// Counters and histograms for the request path, registered in a prom-client Registry but
// counted here. prom-client validates and hashes the label set on every inc/observe (its
// children only curry the labels), which cost a quarter of the proxy's throughput in the
// bench; these look a series up once and then only add to numbers. prom-client still
// renders them, from get(), at scrape time.
import type { Registry } from "prom-client";

interface Rendered {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** A counter series: add to `value`. */
export interface CounterSeries {
  value: number;
}

/** A histogram series: observe with HotHistogram.observe. */
export interface HistogramSeries {
  /** Per bucket, not cumulative (made cumulative when rendered); one more for +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

abstract class HotMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Record<string, string>; s: S }>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    // prom-client only calls get() (and reset() on registry.resetMetrics()).
    registry.registerMetric(this as never);
  }

  /** The series for these label values (in labelNames order); keep it and add to it. */
  child(...values: string[]): S {
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i] ?? "";
      });
      entry = { labels, s: this.fresh() };
      this.series.set(key, entry);
    }
    return entry.s;
  }

  reset() {
    this.series.clear();
  }

  protected abstract fresh(): S;
  abstract get(): Promise<Rendered>;
}

export class HotCounter extends HotMetric<CounterSeries> {
  readonly type = "counter";

  protected fresh(): CounterSeries {
    return { value: 0 };
  }

  async get(): Promise<Rendered> {
    return {
      name: this.name,
      help: this.help,
      type: "counter",
      aggregator: "sum",
      values: [...this.series.values()].map(({ labels, s }) => ({ value: s.value, labels })),
    };
  }
}

export class HotHistogram extends HotMetric<HistogramSeries> {
  readonly type = "histogram";
  readonly #bounds: readonly number[];

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: number[],
  ) {
    super(registry, name, help, labelNames);
    this.#bounds = [...buckets].sort((a, b) => a - b);
  }

  protected fresh(): HistogramSeries {
    return { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 };
  }

  observe(s: HistogramSeries, value: number) {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (s.counts as unknown as number[])[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
  }

  async get(): Promise<Rendered> {
    const values: Rendered["values"] = [];
    for (const { labels, s } of this.series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ value: cumulative, labels: { le, ...labels }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: s.count, labels: { le: "+Inf", ...labels }, metricName: `${this.name}_bucket` });
      values.push({ value: s.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram", aggregator: "sum", values };
  }
}
