/**
 * `node dist/bench/test/bench/metricsCost.js`: the CPU that metrics add to one signing request, measured on the
 * code itself with CPU time (process.cpuUsage), so that other load on a shared machine barely moves it. One request
 * adds: building its RequestRecord and handing it to the metrics subscriber (counter + histogram), and one timed
 * PKCS#11 call (`sign`) handed to the metrics listener (histogram) beside the health tracker, which runs with or
 * without metrics. The HTTP bench (`npm run bench -- --metrics`) measures the same end to end, with more noise.
 */
import { Registry } from 'prom-client';
import { instrumentDaemon, type ObservedToken } from '../../src/observability/metrics/instrument';
import { RequestObservers, type RequestRecord } from '../../src/observability/requestEvents';
import { TokenEvents } from '../../src/observability/tokenEvents';
import { callEvents } from '../../src/token/callEvents';
import { TokenHealthTracker } from '../../src/token/health';

const N = 200_000;
const ROUNDS = 7;

function setUp(withMetrics: boolean): { observers: RequestObservers; observe: ReturnType<typeof callEvents> } {
  const events = new TokenEvents();
  new TokenHealthTracker(events, { windowMs: 60_000, slowCallMs: 1000 });
  const observers = new RequestObservers();
  if (withMetrics) {
    const token: ObservedToken = {
      name: 'demo',
      state: 'ready',
      poolStats: { inUse: 0, waiting: 0, live: 4, quarantined: 0 },
      events,
      healthTracker: { report: () => ({ status: 'ACTIVE' }) },
    };
    instrumentDaemon(new Registry(), [token], observers, () => 0);
  }
  return { observers, observe: callEvents(events, 'demo') };
}

/** µs of CPU per simulated request: what the request path does for observers, as in src/api/rpcHandler.ts. */
function perRequest(withMetrics: boolean): number {
  const { observers, observe } = setUp(withMetrics);
  const actions = ['CertificatePrivateKeySign', 'AsymmetricSign'];
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const started = process.hrtime.bigint();
      observe?.('sign', started, undefined);
      if (!observers.active) continue;
      const record: RequestRecord = {
        requestId: 'F5A4C7E2-0D1B-4C9A-9E2B-7A1D3C5B8E10',
        product: 'kms',
        action: actions[i & 1],
        operation: actions[i & 1],
        version: '2016-01-20',
        accessKeyId: 'LTAI5tBENCH',
        clientAddress: '127.0.0.1',
        identity: 'cert-1',
        status: 200,
        code: undefined,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      };
      observers.emit(record);
    }
  };
  run(N / 4); // warm up (JIT, label children)
  const before = process.cpuUsage();
  run(N);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / N;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const off: number[] = [];
const on: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  off.push(perRequest(false));
  on.push(perRequest(true));
}
const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
console.log(`without metrics: ${median(off).toFixed(2)} µs CPU/request (rounds: ${fmt(off)})`);
console.log(`with metrics:    ${median(on).toFixed(2)} µs CPU/request (rounds: ${fmt(on)})`);
console.log(`metrics add:     ${(median(on) - median(off)).toFixed(2)} µs CPU/request`);
