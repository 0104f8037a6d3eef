import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { LocalCounter, LocalHistogram } from '../../../src/observability/metrics/localSeries';
import { Scrape } from '../../helpers/prometheus';

const BUCKETS = [0.001, 0.005, 0.01, 0.1];
/** Values on, between, below and above the bounds: `le` is inclusive. */
const VALUES = [0, 0.0005, 0.001, 0.0010001, 0.005, 0.007, 0.01, 0.05, 0.1, 0.2, 7];

/** The same observations through prom-client's Histogram and through LocalHistogram, each in its own registry. */
function both(): { ours: Registry; theirs: Registry; local: LocalHistogram } {
  const ours = new Registry();
  const theirs = new Registry();
  const local = new LocalHistogram({
    name: 'x_seconds',
    help: 'h',
    labelNames: ['a', 'b'],
    buckets: BUCKETS,
    registers: [ours],
  });
  const reference = new Histogram({
    name: 'x_seconds',
    help: 'h',
    labelNames: ['a', 'b'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  VALUES.forEach((v, i) => {
    const b = i % 2 === 0 ? 'even' : 'odd';
    local.cell('one', b).observe(v);
    reference.observe({ a: 'one', b }, v);
  });
  return { ours, theirs, local };
}

describe('metrics kept in plain memory (LocalHistogram, LocalCounter)', () => {
  it('scrapes to the same text as prom-client for the same observations, bounds inclusive', async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    const s = new Scrape(text);
    expect(s.type('x_seconds')).toBe('HISTOGRAM');
    expect(s.count('x_seconds', { a: 'one', b: 'even' })).toBe(6);
    expect(text).toContain('x_seconds_bucket{le="0.001",a="one",b="even"} 2');
  });

  it('sums across cluster workers as prom-client sums its own histograms', async () => {
    const w1 = both();
    const w2 = both();
    const ref1 = both();
    const ref2 = both();
    const ours = AggregatorRegistry.aggregate([
      await w1.ours.getMetricsAsJSON(),
      await w2.ours.getMetricsAsJSON(),
    ]).metrics();
    const theirs = AggregatorRegistry.aggregate([
      await ref1.theirs.getMetricsAsJSON(),
      await ref2.theirs.getMetricsAsJSON(),
    ]).metrics();
    expect(await ours).toBe(await theirs);
    expect(new Scrape(await ours).count('x_seconds', { a: 'one', b: 'odd' })).toBe(10);
  });

  it('hands out one cell per label set, and reset zeroes the series the cells still feed', async () => {
    const { ours, local } = both();
    expect(local.cell('one', 'even')).toBe(local.cell('one', 'even'));
    ours.resetMetrics();
    local.cell('one', 'even').observe(0.002);
    const s = new Scrape(await ours.metrics());
    expect(s.count('x_seconds', { b: 'even' })).toBe(1);
    expect(s.count('x_seconds', { b: 'odd' })).toBe(0);
  });

  it('counts like prom-client counters', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const local = new LocalCounter({ name: 'y_total', help: 'c', labelNames: ['code'], registers: [ours] });
    const reference = new Counter({ name: 'y_total', help: 'c', labelNames: ['code'], registers: [theirs] });
    for (const code of ['OK', 'OK', 'Forbidden', 'OK']) {
      local.cell(code).inc();
      reference.inc({ code });
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(new Scrape(await ours.metrics()).value('y_total', { code: 'OK' })).toBe(3);
  });
});
