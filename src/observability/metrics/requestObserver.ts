import type { Counter } from 'prom-client';
import type { RequestObserver } from '../requestEvents';
import type { MetricSet } from './definitions';
import type { CounterCell, HistogramCell } from './localSeries';

/**
 * The metrics' subscriber to finished requests. Series cells are looked up once per distinct label set and kept:
 * per request this is two map lookups, an increment and a bucket count (issue 18's budget).
 * Label values are bounded: the action is the operation that ran (an unknown Action is `unknown`), the code comes
 * from the error catalogue, the access key id from the configured keys.
 */
export function requestMetrics(m: MetricSet): RequestObserver {
  const counts = new Map<string, CounterCell>();
  const durations = new Map<string, HistogramCell>();
  const throttled = new Map<string, Counter.Internal>();
  return (r) => {
    const product = r.product ?? 'unknown';
    const action = r.operation ?? 'unknown';
    const code = r.code ?? (r.status === 499 ? 'ClientClosed' : 'OK');
    const at = `${product} ${action}`;
    const key = `${at} ${code}`;
    let count = counts.get(key);
    if (!count) {
      count = m.requests.cell(product, action, code);
      counts.set(key, count);
    }
    count.inc();
    let duration = durations.get(at);
    if (!duration) {
      duration = m.requestDuration.cell(product, action);
      durations.set(at, duration);
    }
    duration.observe(r.seconds);
    if (r.code !== undefined && r.code.includes('Throttling') && r.accessKeyId !== undefined) {
      let t = throttled.get(r.accessKeyId);
      if (!t) {
        t = m.throttled.labels(r.accessKeyId);
        throttled.set(r.accessKeyId, t);
      }
      t.inc();
    }
  };
}
