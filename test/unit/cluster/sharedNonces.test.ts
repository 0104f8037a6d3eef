import { NonceCache } from '../../../src/api/auth/replayCache';
import { validateConfig } from '../../../src/config/load';
import type { NonceClaimsMessage, NonceResultsMessage } from '../../../src/cluster/messages';
import { answerNonceClaims } from '../../../src/cluster/nonceAuthority';
import { SharedNonceStore } from '../../../src/cluster/sharedNonceStore';
import { AUTO_WORKERS_MAX, resolveWorkers } from '../../../src/cluster/workers';
import { ApiError } from '../../../src/errors/apiError';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/**
 * Two workers' stores wired to one primary cache through an in-memory channel that delivers like IPC does
 * (asynchronously, in order). The real processes are exercised by test/e2e/cluster.e2e.test.ts.
 */
function cluster(cache: NonceCache, opts: { deliver?: boolean } = {}) {
  const sent: NonceClaimsMessage[] = [];
  const make = (): SharedNonceStore => {
    const store: SharedNonceStore = new SharedNonceStore((m) => {
      sent.push(m);
      if (opts.deliver === false) return;
      const answer: NonceResultsMessage = answerNonceClaims(cache, JSON.parse(JSON.stringify(m)) as NonceClaimsMessage);
      setImmediate(() => store.receive(JSON.parse(JSON.stringify(answer)) as NonceResultsMessage));
    }, 200);
    return store;
  };
  return { a: make(), b: make(), sent };
}

describe('shared replay window (cluster workers ask the primary)', () => {
  it('accepts a nonce once across workers and refuses it on every other worker', async () => {
    const { a, b } = cluster(new NonceCache({ now: () => T0 }));
    expect(await a.checkAndRecord('ak1', 'n1', T0)).toBe(true);
    expect(await b.checkAndRecord('ak1', 'n1', T0)).toBe(false);
    expect(await a.checkAndRecord('ak1', 'n1', T0)).toBe(false);
    // Nonces are per AccessKey.
    expect(await b.checkAndRecord('ak2', 'n1', T0)).toBe(true);
  });

  it('sends the claims of one event-loop turn as one message, answered in order', async () => {
    const { a, sent } = cluster(new NonceCache({ now: () => T0 }));
    const results = await Promise.all([
      a.checkAndRecord('ak1', 'x', T0),
      a.checkAndRecord('ak1', 'y', T0),
      a.checkAndRecord('ak1', 'x', T0),
    ]);
    expect(results).toEqual([true, true, false]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.claims).toEqual(['ak1', 'x', 'ak1', 'y', 'ak1', 'x']);
  });

  it('lets exactly one of two workers win the same nonce claimed in the same turn', async () => {
    const { a, b } = cluster(new NonceCache({ now: () => T0 }));
    const [ra, rb] = await Promise.all([a.checkAndRecord('ak1', 'race', T0), b.checkAndRecord('ak1', 'race', T0)]);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);
  });

  it('answers ServiceUnavailable when the primary window is full', async () => {
    const { a } = cluster(new NonceCache({ now: () => T0, maxEntries: 1000 }));
    await Promise.all(Array.from({ length: 1000 }, (_, i) => a.checkAndRecord('ak1', `n${i}`, T0)));
    const e = await a.checkAndRecord('ak1', 'one-too-many', T0).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe('ServiceUnavailable');
  });

  it('fails the claims, rather than accepting them, when the primary does not answer or is gone', async () => {
    const { a } = cluster(new NonceCache(), { deliver: false });
    const causeOf = async (p: Promise<boolean>): Promise<string> => {
      const e = await p.catch((err: unknown) => err);
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toBe('ServiceUnavailable');
      return String(((e as ApiError).cause as Error).message);
    };
    expect(await causeOf(a.checkAndRecord('ak1', 'lost', T0))).toMatch(/did not answer/);
    const pending = a.checkAndRecord('ak1', 'closing', T0);
    await new Promise((r) => setImmediate(r));
    a.close();
    expect(await causeOf(pending)).toMatch(/closed/);
    expect(await causeOf(a.checkAndRecord('ak1', 'after', T0))).toMatch(/closed/);
  });

  it('refuses malformed claims in the primary instead of recording them', () => {
    const cache = new NonceCache({ now: () => T0 });
    const answer = answerNonceClaims(cache, {
      p11bridge: 'nonces',
      id: 7,
      claims: ['ak1', 'ok', 'ak1', 42 as unknown as string],
      at: [T0, T0],
    });
    expect(answer).toEqual({ p11bridge: 'nonces', id: 7, results: 'yx' });
  });
});

describe('server.workers', () => {
  const base = {
    tokens: [{ warehouseId: 1, name: 'demo', tokenLabel: 'demo', pin: { env: 'PIN' } }],
    auth: { accessKeys: [{ id: 'LTAI5tEXAMPLE', secret: { file: '/run/secrets/ak' } }] },
  };

  it('defaults to auto: one worker per core, at most four', () => {
    const config = validateConfig(base, {});
    expect(config.server.workers).toBe('auto');
    expect(resolveWorkers(config, 1)).toBe(1);
    expect(resolveWorkers(config, 2)).toBe(2);
    expect(resolveWorkers(config, 64)).toBe(AUTO_WORKERS_MAX);
  });

  it('takes a number from the file or P11BRIDGE_WORKERS, and refuses nonsense', () => {
    expect(resolveWorkers(validateConfig({ ...base, server: { workers: 3 } }, {}), 2)).toBe(3);
    expect(resolveWorkers(validateConfig(base, { P11BRIDGE_WORKERS: '1' }), 8)).toBe(1);
    expect(validateConfig(base, { P11BRIDGE_WORKERS: 'auto' }).server.workers).toBe('auto');
    expect(() => validateConfig({ ...base, server: { workers: 0 } }, {})).toThrow(/server\.workers/);
    expect(() => validateConfig(base, { P11BRIDGE_WORKERS: 'many' })).toThrow(/server\.workers/);
  });
});
