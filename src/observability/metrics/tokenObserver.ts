import type { TokenListener } from '../tokenEvents';
import type { MetricSet } from './definitions';
import type { HistogramCell } from './localSeries';

/** The metrics' listener to one token's events: call latency, PKCS#11 errors by CKR_* name, recoveries. */
export function tokenMetrics(m: MetricSet): TokenListener {
  const durations = new Map<string, HistogramCell>();
  return (e) => {
    if (e.kind === 'state') {
      if (e.state === 'recovering' && e.previous !== 'recovering') m.tokenRecoveries.inc({ token: e.token });
      return;
    }
    const key = `${e.token} ${e.operation}`;
    let d = durations.get(key);
    if (!d) {
      d = m.tokenCallDuration.cell(e.token, e.operation);
      durations.set(key, d);
    }
    d.observe(e.seconds);
    if (e.error !== undefined) m.pkcs11Errors.inc({ token: e.token, ckr: e.error });
  };
}
