import type { Metric, Registry } from 'prom-client';

/** One series of a scrape, as prom-client's registry reads it from a metric's `get()`. */
interface ScrapedValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName: string;
}

/** A metric's scrape, in the shape prom-client's registry formats and its cluster aggregator sums. */
interface ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram' | 'counter';
  readonly values: readonly ScrapedValue[];
  readonly aggregator: 'sum';
}

/** Label values, in `labelNames` order, as one map key (NUL cannot occur in a label value we emit). */
function keyOf(values: readonly string[]): string {
  return values.join('\u0000');
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((n, i) => (labels[n] = values[i] ?? ''));
  return labels;
}

/** The registry reads name, type, get() and reset(), the members every prom-client metric has. */
function register(metric: object, registers: readonly Registry[]): void {
  // The cast names this structural fit, which prom-client's types (a union of its own classes) cannot express.
  for (const r of registers) r.registerMetric(metric as Metric);
}

/** One label set's buckets: what the request path touches (an array index, two additions). */
export class HistogramCell {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one value (seconds). */
  observe(value: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram kept in plain arrays, one {@link HistogramCell} per label set, turned into prom-client's
 * shape only when scraped. prom-client's own `observe` (even on a `labels()` child) validates and hashes the labels
 * and looks a bucket up by its bound turned into a string on every call: in the daemon, where each request runs
 * with cold caches, that was several µs per observation (docs/performance.md, issue 18). The text it scrapes to
 * is prom-client's, and the cluster primary sums it like any histogram (aggregator `sum`).
 */
export class LocalHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  readonly #bounds: readonly number[];
  readonly #cells = new Map<string, HistogramCell>();

  constructor(o: {
    name: string;
    help: string;
    labelNames: readonly string[];
    buckets: readonly number[];
    registers: readonly Registry[];
  }) {
    this.name = o.name;
    this.help = o.help;
    this.#labelNames = o.labelNames;
    this.#bounds = [...o.buckets].sort((a, b) => a - b);
    register(this, o.registers);
  }

  /** The cell of one label set, values in `labelNames` order: look it up once per label set and keep it. */
  cell(...values: string[]): HistogramCell {
    const key = keyOf(values);
    let c = this.#cells.get(key);
    if (!c) {
      c = new HistogramCell(labelsOf(this.#labelNames, values), this.#bounds);
      this.#cells.set(key, c);
    }
    return c;
  }

  /** prom-client's histogram shape: cumulative `_bucket` series with `le`, then `+Inf`, `_sum` and `_count`. */
  get(): Promise<ScrapedMetric> {
    const values: ScrapedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.#cells.values()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += c.counts[i] as number;
        values.push({ labels: { le, ...c.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: bucket });
      values.push({ labels: { ...c.labels }, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...c.labels }, value: c.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' });
  }

  /** Sets every series to zero (prom-client's `registry.resetMetrics()`); callers keep their cells. */
  reset(): void {
    for (const c of this.#cells.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}

/** One label set's count. */
export class CounterCell {
  readonly labels: Readonly<Record<string, string>>;
  value = 0;

  constructor(labels: Readonly<Record<string, string>>) {
    this.labels = labels;
  }

  inc(): void {
    this.value++;
  }
}

/** A Prometheus counter kept as plain numbers, one {@link CounterCell} per label set (see {@link LocalHistogram}). */
export class LocalCounter {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  readonly #cells = new Map<string, CounterCell>();

  constructor(o: { name: string; help: string; labelNames: readonly string[]; registers: readonly Registry[] }) {
    this.name = o.name;
    this.help = o.help;
    this.#labelNames = o.labelNames;
    register(this, o.registers);
  }

  /** The cell of one label set, values in `labelNames` order: look it up once per label set and keep it. */
  cell(...values: string[]): CounterCell {
    const key = keyOf(values);
    let c = this.#cells.get(key);
    if (!c) {
      c = new CounterCell(labelsOf(this.#labelNames, values));
      this.#cells.set(key, c);
    }
    return c;
  }

  get(): Promise<ScrapedMetric> {
    const values: ScrapedValue[] = [];
    for (const c of this.#cells.values())
      values.push({ labels: { ...c.labels }, value: c.value, metricName: this.name });
    return Promise.resolve({ name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' });
  }

  /** Sets every series to zero (prom-client's `registry.resetMetrics()`); callers keep their cells. */
  reset(): void {
    for (const c of this.#cells.values()) c.value = 0;
  }
}
