import { NonceCache } from '../../../src/api/auth/replayCache';
import { assertPartCount, assertValueSizes, countParts } from '../../../src/api/limits/parameterLimits';
import { RateLimiter } from '../../../src/api/limits/rateLimiter';
import { ApiError } from '../../../src/errors/apiError';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('per-key rate limit (token bucket)', () => {
  it('admits a burst, then refuses at once with Throttling.User and the ms until a token is back', () => {
    const l = new RateLimiter();
    l.setRates(new Map([['ak', { qps: 10, burst: 3 }]]), T0);
    for (let i = 0; i < 3; i++) l.take('ak', T0);
    const e = refusal(() => l.take('ak', T0));
    expect(e.code).toBe('Throttling.User');
    expect(e.headers).toEqual({ 'x-acs-retry-after': '100' });
    // 100 ms later one token is back, and only one.
    l.take('ak', T0 + 100);
    expect(refusal(() => l.take('ak', T0 + 100)).code).toBe('Throttling.User');
  });

  it('does not limit a key without a rate, and keeps a bucket level across a reload', () => {
    const l = new RateLimiter();
    l.setRates(new Map([['ak', { qps: 1, burst: 2 }]]), T0);
    for (let i = 0; i < 100; i++) l.take('other', T0);
    l.take('ak', T0);
    l.take('ak', T0);
    l.setRates(new Map([['ak', { qps: 1, burst: 5 }]]), T0);
    expect(refusal(() => l.take('ak', T0)).code).toBe('Throttling.User');
    l.setRates(new Map(), T0);
    l.take('ak', T0);
  });
});

describe('parameter limits before authentication', () => {
  const limits = { maxParameters: 64, maxParameterBytes: 1024 };

  it('counts parts on the raw strings without decoding', () => {
    expect(countParts('')).toBe(0);
    expect(countParts('a=1')).toBe(1);
    expect(countParts('a=1&b=2&&')).toBe(4);
  });

  it('refuses 30,000 parameters with InvalidParameter naming the limit', () => {
    const flood = Array.from({ length: 30000 }, (_, i) => `p${i}=1`).join('&');
    const e = refusal(() => assertPartCount(flood, '', limits));
    expect(e.code).toBe('InvalidParameter');
    expect(e.message).toBe('The request has 30000 parameters; at most 64 are accepted.');
    expect(() => assertPartCount('a=1&b=2', 'c=3', limits)).not.toThrow();
  });

  it('refuses a value longer than maxParameterBytes in UTF-8', () => {
    expect(() => assertValueSizes([['Message', 'x'.repeat(1024)]], limits)).not.toThrow();
    expect(refusal(() => assertValueSizes([['Message', 'é'.repeat(513)]], limits)).message).toMatch(
      /Message is not valid: it exceeds 1024 bytes/,
    );
  });
});

describe('replay window shared fairly among access keys', () => {
  it('lets a flooding key borrow the pool, then refuses it with Throttling.User while a quiet key keeps its guarantee', () => {
    const cache = new NonceCache({ maxEntries: 1000, sharingKeys: 2, now: () => T0 });
    // Guarantee per key: 1000 / (2 × 2) = 250; pool: 500. The flood gets 250 + 500.
    let accepted = 0;
    let refused: ApiError | undefined;
    for (let i = 0; i < 2000 && !refused; i++) {
      try {
        cache.checkAndRecord('noisy', `n${i}`, T0 + i);
        accepted++;
      } catch (e) {
        refused = e as ApiError;
      }
    }
    expect(accepted).toBe(750);
    expect(refused?.code).toBe('Throttling.User');
    // The oldest of its entries expires 31 minutes after it was recorded.
    expect(Number(refused?.headers?.['x-acs-retry-after'])).toBeGreaterThan(30 * 60 * 1000);
    for (let i = 0; i < 250; i++) expect(cache.checkAndRecord('quiet', `q${i}`, T0 + 2000)).toBe(true);
    expect(cache.countOf('quiet')).toBe(250);
    // Replays are still refused for both.
    expect(cache.checkAndRecord('noisy', 'n0', T0 + 2000)).toBe(false);
    expect(cache.checkAndRecord('quiet', 'q0', T0 + 2000)).toBe(false);
  });

  it('gives the whole window to a single key, and re-shares it when a reload adds a key', () => {
    const cache = new NonceCache({ maxEntries: 1000, ttlMs: 60_000, now: () => T0 });
    for (let i = 0; i < 1000; i++) cache.checkAndRecord('only', `n${i}`, T0);
    expect(refusal(() => cache.checkAndRecord('only', 'x', T0)).code).toBe('ServiceUnavailable');
    // 60 s later those expired; 900 new entries, then a second key is configured.
    for (let i = 0; i < 900; i++) cache.checkAndRecord('only', `m${i}`, T0 + 60_000);
    cache.setSharingKeys(2);
    expect(refusal(() => cache.checkAndRecord('only', 'x', T0 + 60_001)).code).toBe('Throttling.User');
    expect(cache.checkAndRecord('new', 'x', T0 + 60_001)).toBe(true);
    expect(cache.countOf('only')).toBe(900);
  });
});
