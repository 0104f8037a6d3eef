import { Registry } from 'prom-client';
import { instrumentDaemon, type ObservedToken } from '../../../src/observability/metrics/instrument';
import { RequestObservers, type RequestRecord } from '../../../src/observability/requestEvents';
import { TokenEvents } from '../../../src/observability/tokenEvents';
import { Scrape } from '../../helpers/prometheus';

const base: RequestRecord = {
  requestId: 'R',
  product: 'kms',
  action: 'AsymmetricSign',
  operation: 'AsymmetricSign',
  version: '2016-01-20',
  accessKeyId: 'AK1',
  clientAddress: '127.0.0.1',
  identity: 'key-1',
  status: 200,
  code: undefined,
  seconds: 0.002,
};

function setUp(): { registry: Registry; observers: RequestObservers; events: TokenEvents; token: ObservedToken } {
  const registry = new Registry();
  const observers = new RequestObservers();
  const events = new TokenEvents();
  const token: ObservedToken = {
    name: 'hsm-a',
    state: 'ready',
    poolStats: { inUse: 1, waiting: 2, live: 4, quarantined: 1 },
    events,
    healthTracker: { report: () => ({ status: 'DEGRADED' }) },
  };
  instrumentDaemon(registry, [token], observers, () => 42);
  return { registry, observers, events, token };
}

describe('metrics from request records and token events', () => {
  it('counts requests by product, action and code and keeps claimed-but-unknown actions out of the labels', async () => {
    const { registry, observers } = setUp();
    for (let i = 0; i < 3; i++) observers.emit(base);
    observers.emit({ ...base, status: 404, code: 'Forbidden.KeyNotFound' });
    observers.emit({ ...base, action: 'Made.Up', operation: undefined, status: 404, code: 'InvalidAction.NotFound' });
    observers.emit({ ...base, status: 499, code: undefined });
    const m = new Scrape(await registry.metrics());
    const sign = { product: 'kms', action: 'AsymmetricSign' };
    expect(m.value('p11bridge_requests_total', { ...sign, code: 'OK' })).toBe(3);
    expect(m.value('p11bridge_requests_total', { ...sign, code: 'Forbidden.KeyNotFound' })).toBe(1);
    expect(m.value('p11bridge_requests_total', { ...sign, code: 'ClientClosed' })).toBe(1);
    expect(m.value('p11bridge_requests_total', { product: 'kms', action: 'unknown' })).toBe(1);
    expect(m.count('p11bridge_request_duration_seconds', sign)).toBe(5);
    expect(m.labelSets('p11bridge_throttled_requests_total')).toHaveLength(0);
  });

  it('counts both throttling codes against the AccessKeyId', async () => {
    const { registry, observers } = setUp();
    observers.emit({ ...base, operation: undefined, status: 400, code: 'Rejected.Throttling' });
    observers.emit({ ...base, product: 'cas', status: 400, code: 'Throttling.User' });
    observers.emit({ ...base, accessKeyId: 'AK2', status: 400, code: 'Throttling.User' });
    const m = new Scrape(await registry.metrics());
    expect(m.value('p11bridge_throttled_requests_total', { access_key_id: 'AK1' })).toBe(2);
    expect(m.value('p11bridge_throttled_requests_total', { access_key_id: 'AK2' })).toBe(1);
  });

  it('times token calls, counts PKCS#11 errors by CKR name, and counts entries into recovery once each', async () => {
    const { registry, events } = setUp();
    const call = { kind: 'call', token: 'hsm-a', operation: 'sign', seconds: 0.001 } as const;
    events.emit({ ...call, error: undefined, fault: undefined });
    events.emit({ ...call, error: 'CKR_DEVICE_ERROR', fault: 'device' });
    events.emit({ ...call, error: 'deadline', fault: 'timeout' });
    const state = { kind: 'state', token: 'hsm-a', reason: undefined } as const;
    events.emit({ ...state, state: 'recovering', previous: 'ready' });
    events.emit({ ...state, state: 'recovering', previous: 'recovering' });
    events.emit({ ...state, state: 'ready', previous: 'recovering' });
    const m = new Scrape(await registry.metrics());
    expect(m.count('p11bridge_token_operation_duration_seconds', { token: 'hsm-a', operation: 'sign' })).toBe(3);
    expect(m.value('p11bridge_pkcs11_errors_total', { token: 'hsm-a', ckr: 'CKR_DEVICE_ERROR' })).toBe(1);
    expect(m.value('p11bridge_pkcs11_errors_total', { token: 'hsm-a', ckr: 'deadline' })).toBe(1);
    expect(m.value('p11bridge_token_recoveries_total', { token: 'hsm-a' })).toBe(1);
  });

  it('reads the gauges at scrape time: sessions, waiters, state, health, replay window', async () => {
    const { registry } = setUp();
    const m = new Scrape(await registry.metrics());
    expect(m.value('p11bridge_sessions', { token: 'hsm-a', state: 'busy' })).toBe(1);
    expect(m.value('p11bridge_sessions', { token: 'hsm-a', state: 'idle' })).toBe(2);
    expect(m.value('p11bridge_sessions', { token: 'hsm-a', state: 'quarantined' })).toBe(1);
    expect(m.value('p11bridge_session_waiters', { token: 'hsm-a' })).toBe(2);
    expect(m.value('p11bridge_token_state', { token: 'hsm-a', state: 'ready' })).toBe(1);
    expect(m.value('p11bridge_token_state', { token: 'hsm-a', state: 'recovering' })).toBe(0);
    expect(m.value('p11bridge_token_health', { token: 'hsm-a', status: 'DEGRADED' })).toBe(1);
    expect(m.value('p11bridge_token_health', { token: 'hsm-a', status: 'ACTIVE' })).toBe(0);
    expect(m.value('p11bridge_replay_window_entries')).toBe(42);
  });

  it('never lets a subscriber that throws change the request (the next subscribers still run)', () => {
    const observers = new RequestObservers();
    const seen: string[] = [];
    observers.subscribe(() => {
      throw new Error('observer bug');
    });
    observers.subscribe((r) => seen.push(r.requestId));
    expect(() => observers.emit(base)).not.toThrow();
    expect(seen).toEqual(['R']);
  });
});
