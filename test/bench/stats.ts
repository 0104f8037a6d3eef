/** A growable list of latencies in ms (a Float64Array, so that 100k samples cost 800 KB and no boxing). */
export class LatencyRecorder {
  #values = new Float64Array(16384);
  #length = 0;

  get count(): number {
    return this.#length;
  }

  record(ms: number): void {
    if (this.#length === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#length++] = ms;
  }

  /** p50, p99 and max (nearest-rank percentiles); zeros when nothing was recorded. */
  summary(): LatencySummary {
    const n = this.#length;
    if (n === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const sorted = this.#values.slice(0, n).sort();
    return { p50Ms: rank(sorted, 0.5), p99Ms: rank(sorted, 0.99), maxMs: sorted[n - 1] ?? 0 };
  }
}

export interface LatencySummary {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile of an ascending array. */
function rank(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? 0;
}
