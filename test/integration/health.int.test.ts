/**
 * Per-token health (ACTIVE / DEGRADED / UNAVAILABLE) and the session keepalive under injected faults: a real
 * SoftHSM2 token behind the fault token (softhsm/fault-token, a PKCS#11 TEST DOUBLE that forwards to SoftHSM2 and
 * fails, delays or hangs the calls a test names). Every signature that succeeds is verified with node:crypto.
 */
import { verify } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { TokenConfig } from '../../src/config/schema';
import { kmsSignatureAlgorithm, type SignatureAlgorithm } from '../../src/crypto/algorithms';
import { readiness } from '../../src/token/readiness';
import { TokenRegistry } from '../../src/token/tokenRegistry';
import type { TokenManager } from '../../src/token/tokenManager';
import { createFaultControl, faultTokenOverrides, type FaultControl } from '../helpers/faultToken';
import { createTestToken, openToken, provisionTestToken, type TestToken } from '../helpers/token';

const RSA = kmsSignatureAlgorithm('RSA_PKCS1_SHA_256') as SignatureAlgorithm;
const OPERATION_MS = 3000;
/** Evidence of trouble is kept this long: short, so that the way back to ACTIVE is seen in the test. */
const WINDOW_MS = 1500;
// Generous: an ordinary signature on a loaded 2-core CI machine must never look slow.
const SLOW_MS = 2000;
/** An HSM idle timeout: the keepalive runs every third of it. */
const IDLE_TIMEOUT_MS = 600;

function overrides(): Partial<TokenConfig> {
  return {
    ...faultTokenOverrides(OPERATION_MS),
    health: { windowMs: WINDOW_MS, slowCallMs: SLOW_MS },
    sessionIdleTimeoutMs: IDLE_TIMEOUT_MS,
  };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`not ${what} within ${ms} ms`);
    await delay(20);
  }
}

describe('token health and keepalive behind the fault token (real SoftHSM2 token)', () => {
  let fault: FaultControl;
  let t: TestToken;
  let rsaId: string;
  let token: TokenManager;
  let registry: TokenRegistry;

  const sign = async (text: string): Promise<void> => {
    const data = Buffer.from(text);
    const sig = await token.sign(rsaId, RSA, { kind: 'message', data });
    const entry = token.lookup(rsaId);
    if (!entry) throw new Error('no entry');
    expect(verify('sha256', data, entry.publicKey, sig)).toBe(true);
  };
  const health = () => token.healthTracker.report();

  beforeAll(async () => {
    t = createTestToken({ sessions: 2 });
    const p = await provisionTestToken(t);
    const rsa = p.leaves.find((l) => l.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA leaf');
    rsaId = rsa.id;
    fault = createFaultControl(join(t.dir, 'fault'));
    token = await openToken(t, overrides());
    registry = new TokenRegistry([token]);
  }, 60000);

  beforeEach(async () => {
    fault.clear();
    await waitFor(() => health().status === 'ACTIVE', WINDOW_MS + 5000, 'ACTIVE before the test');
  }, 30000);

  afterAll(async () => {
    fault?.clear();
    await token?.close();
    fault?.cleanup();
    t?.cleanup();
  }, 30000);

  it('is ACTIVE while it signs, and /readyz answers 200 with ACTIVE', async () => {
    await sign('healthy');
    expect(health()).toMatchObject({ status: 'ACTIVE', state: 'ready', recentErrors: 0, recentSlowCalls: 0 });
    const r = readiness(registry, false);
    expect(r.ready).toBe(true);
    expect(r.body).toMatchObject({ status: 'ready', health: 'ACTIVE', tokens: [{ health: 'ACTIVE', ready: true }] });
    expect(r.body.tokens[0]?.reason).toBeUndefined();
  });

  it('turns DEGRADED after a failed C_Sign (still serving: 200), names the CKR, and is ACTIVE again after the window', async () => {
    fault.set([`C_Sign fail CKR_SESSION_HANDLE_INVALID token=${t.label} times=1`]);
    await expect(sign('fails once')).rejects.toThrow();
    expect(health()).toMatchObject({ status: 'DEGRADED', recentErrors: 1 });
    expect(health().reason).toMatch(/sign failed with CKR_SESSION_HANDLE_INVALID/);
    const r = readiness(registry, false);
    expect(r.ready).toBe(true);
    expect(r.body).toMatchObject({ health: 'DEGRADED', tokens: [{ health: 'DEGRADED', ready: true }] });
    await sign('serves while degraded');
    await waitFor(() => health().status === 'ACTIVE', WINDOW_MS + 2000, 'ACTIVE after the window');
  });

  it('does not count a caller-fault error (wrong data for the key) as trouble', async () => {
    fault.set([`C_Sign fail CKR_DATA_LEN_RANGE token=${t.label} times=1`]);
    await expect(sign('caller fault')).rejects.toThrow();
    expect(health().status).toBe('ACTIVE');
  });

  it('turns DEGRADED on slow signatures', async () => {
    fault.set([`C_Sign delay ${SLOW_MS + 100} token=${t.label} times=1`]);
    await sign('slow');
    expect(health()).toMatchObject({ status: 'DEGRADED', recentSlowCalls: 1 });
    expect(health().reason).toMatch(/^sign took \d+ ms$/);
  });

  it('is UNAVAILABLE with the reason while C_Sign hangs (/readyz 503, answered from memory), then back', async () => {
    fault.set([`C_Sign hang token=${t.label}`]);
    await expect(sign('hangs')).rejects.toThrow();
    expect(health()).toMatchObject({ status: 'UNAVAILABLE', state: 'unavailable' });
    expect(health().reason).toMatch(/did not answer within 3000 ms/);
    const t0 = performance.now();
    const r = readiness(registry, false);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(r.ready).toBe(false);
    expect(r.body).toMatchObject({ status: 'not ready', health: 'UNAVAILABLE', tokens: [{ health: 'UNAVAILABLE' }] });
    expect(r.body.tokens[0]?.reason).toMatch(/did not answer/);
    fault.clear();
    await waitFor(() => token.isReady(), 5000, 'ready again');
    // Serving again, with the deadline miss still in the window: DEGRADED, then ACTIVE.
    expect(health().status).toBe('DEGRADED');
    expect(readiness(registry, false).ready).toBe(true);
    await sign('after the hang');
    await waitFor(() => health().status === 'ACTIVE', WINDOW_MS + 2000, 'ACTIVE after the window');
  });

  it('answers 503 while shutting down even with a healthy token', () => {
    expect(readiness(registry, true)).toMatchObject({ ready: false, body: { health: 'UNAVAILABLE' } });
  });

  it('touches idle sessions more often than the idle timeout, and drops one the token forgot', async () => {
    await sign('a session goes idle');
    const idleBefore = token.poolStats.live - token.poolStats.inUse;
    expect(idleBefore).toBeGreaterThanOrEqual(1);
    fault.reset();
    await delay(IDLE_TIMEOUT_MS + 100);
    // Every idle session and the admin session, three times per idle timeout.
    const touched = fault.counts().C_GetSessionInfo;
    expect(touched).toBeGreaterThanOrEqual(2 * (idleBefore + 1));
    // An HSM that dropped the sessions: the keepalive discards them, and the next signature gets a fresh one.
    fault.set([`C_GetSessionInfo fail CKR_SESSION_HANDLE_INVALID token=${t.label}`]);
    await waitFor(() => token.poolStats.live === 0, IDLE_TIMEOUT_MS * 2, 'idle sessions dropped');
    fault.clear();
    await sign('on a fresh session');
  });
});
