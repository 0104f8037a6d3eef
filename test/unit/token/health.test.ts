import { TokenEvents } from '../../../src/observability/tokenEvents';
import { TokenHealthTracker } from '../../../src/token/health';

function tracker(): { events: TokenEvents; t: TokenHealthTracker; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const events = new TokenEvents();
  const t = new TokenHealthTracker(events, { windowMs: 60_000, slowCallMs: 1000 }, () => clock.now);
  events.emit({ kind: 'state', token: 'a', state: 'ready', previous: 'opening', reason: undefined });
  return { events, t, clock };
}

const call = (operation: string, seconds: number, error?: string, fault?: string) =>
  ({ kind: 'call', token: 'a', operation, seconds, error, fault }) as const;

describe('token health from events', () => {
  it('is UNAVAILABLE with the reason whenever the token does not serve, whatever its recent calls', () => {
    const { events, t } = tracker();
    events.emit({ kind: 'state', token: 'a', state: 'unavailable', previous: 'ready', reason: 'PIN refused' });
    expect(t.report()).toMatchObject({ status: 'UNAVAILABLE', reason: 'PIN refused', state: 'unavailable' });
    events.emit({ kind: 'state', token: 'a', state: 'recovering', previous: 'ready', reason: undefined });
    expect(t.report()).toMatchObject({ status: 'UNAVAILABLE', reason: 'recovering' });
  });

  it('is DEGRADED for the window after a device error or a deadline miss, then ACTIVE', () => {
    const { events, t, clock } = tracker();
    events.emit(call('sign', 0.002, 'CKR_DEVICE_ERROR', 'device'));
    expect(t.report()).toMatchObject({ status: 'DEGRADED', reason: 'sign failed with CKR_DEVICE_ERROR' });
    clock.now += 59_000;
    events.emit(call('decrypt', 5, 'deadline', 'timeout'));
    clock.now += 2_000;
    expect(t.report()).toMatchObject({ status: 'DEGRADED', recentErrors: 1, reason: 'decrypt failed with deadline' });
    clock.now += 60_000;
    expect(t.report()).toMatchObject({ status: 'ACTIVE', recentErrors: 0, reason: undefined });
  });

  it('ignores the caller-fault, stale-handle and busy classes', () => {
    const { events, t } = tracker();
    events.emit(call('sign', 0.001, 'CKR_DATA_LEN_RANGE', 'input'));
    events.emit(call('sign', 0.001, 'CKR_KEY_HANDLE_INVALID', 'stale'));
    events.emit(call('sign', 0.001, 'busy', 'busy'));
    expect(t.report().status).toBe('ACTIVE');
  });

  it('counts slow calls, except calls that are slow by design (key generation, index reads, login)', () => {
    const { events, t } = tracker();
    events.emit(call('C_GenerateKeyPair', 9));
    events.emit(call('readObjects', 3));
    events.emit(call('C_Login', 2));
    expect(t.report().status).toBe('ACTIVE');
    events.emit(call('sign', 1.2));
    expect(t.report()).toMatchObject({ status: 'DEGRADED', recentSlowCalls: 1, reason: 'sign took 1200 ms' });
  });

  it('keeps bounded memory under a storm of errors', () => {
    const { events, t } = tracker();
    for (let i = 0; i < 10_000; i++) events.emit(call('sign', 0.001, 'CKR_DEVICE_ERROR', 'device'));
    expect(t.report().recentErrors).toBeLessThanOrEqual(1000);
    expect(t.report().status).toBe('DEGRADED');
  });
});
