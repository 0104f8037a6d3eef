import { ApiError } from '../../../src/errors/apiError';
import { DEFAULT_NONCE_TTL_MS, NonceCache } from '../../../src/api/auth/replayCache';

const T0 = Date.UTC(2024, 0, 1, 12);
const MINUTE = 60_000;

function cacheWithClock(options: { maxEntries?: number } = {}): { cache: NonceCache; clock: { now: number } } {
  const clock = { now: T0 };
  return { cache: new NonceCache({ ...options, now: () => clock.now }), clock };
}

describe('NonceCache', () => {
  it('remembers a recorded nonce for its AccessKey', () => {
    const { cache } = cacheWithClock();
    expect(cache.seen('ak1', 'n1')).toBe(false);
    cache.record('ak1', 'n1');
    expect(cache.seen('ak1', 'n1')).toBe(true);
  });

  it('keeps the same nonce apart for different AccessKeys', () => {
    const { cache } = cacheWithClock();
    cache.record('ak1', 'n1');
    expect(cache.seen('ak2', 'n1')).toBe(false);
  });

  it('does not confuse (ab, c) with (a, bc)', () => {
    const { cache } = cacheWithClock();
    cache.record('ab', 'c');
    expect(cache.seen('a', 'bc')).toBe(false);
  });

  it('keeps nonces for 31 minutes by default', () => {
    expect(DEFAULT_NONCE_TTL_MS).toBe(31 * MINUTE);
    const { cache, clock } = cacheWithClock();
    cache.record('ak1', 'n1');
    clock.now = T0 + 31 * MINUTE - 1;
    expect(cache.seen('ak1', 'n1')).toBe(true);
    clock.now = T0 + 31 * MINUTE;
    expect(cache.seen('ak1', 'n1')).toBe(false);
  });

  it('lets an expired nonce be recorded again and then remembers it afresh', () => {
    const { cache, clock } = cacheWithClock();
    cache.record('ak1', 'n1');
    cache.record('ak1', 'n2');
    clock.now = T0 + 32 * MINUTE;
    cache.record('ak1', 'n1');
    expect(cache.seen('ak1', 'n1')).toBe(true);
    // n2 expired and was swept; n1 is held once, at its new time.
    expect(cache.size).toBe(1);
  });

  it('sweeps expired entries from the front and stops at the first live one', () => {
    const { cache, clock } = cacheWithClock();
    cache.record('ak', 'old1');
    cache.record('ak', 'old2');
    clock.now = T0 + 10 * MINUTE;
    cache.record('ak', 'young');
    expect(cache.sweep(T0 + 31 * MINUTE)).toBe(2);
    expect(cache.size).toBe(1);
    expect(cache.seen('ak', 'young', T0 + 31 * MINUTE)).toBe(true);
  });

  it('refuses new nonces with ServiceUnavailable when full of live nonces, instead of forgetting any', () => {
    const { cache } = cacheWithClock({ maxEntries: 3 });
    cache.record('ak', 'a');
    cache.record('ak', 'b');
    cache.record('ak', 'c');
    let thrown: unknown;
    try {
      cache.record('ak', 'd');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).code).toBe('ServiceUnavailable');
    expect(cache.size).toBe(3);
    for (const nonce of ['a', 'b', 'c']) expect(cache.seen('ak', nonce)).toBe(true);
  });

  it('makes room by evicting only expired nonces once the cache is full', () => {
    const { cache, clock } = cacheWithClock({ maxEntries: 2 });
    cache.record('ak', 'a');
    clock.now = T0 + 20 * MINUTE;
    cache.record('ak', 'b');
    clock.now = T0 + 31 * MINUTE;
    cache.record('ak', 'c');
    expect(cache.size).toBe(2);
    expect(cache.seen('ak', 'b')).toBe(true);
    expect(cache.seen('ak', 'c')).toBe(true);
    expect(() => cache.record('ak', 'd')).toThrow(ApiError);
  });

  it('rejects a non-positive size or TTL at construction', () => {
    expect(() => new NonceCache({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new NonceCache({ ttlMs: -1 })).toThrow(RangeError);
  });
});

describe('NonceCache at volume', () => {
  it('holds a million nonces without a false refusal and refuses every replay of them', () => {
    const clock = { now: T0 };
    const cache = new NonceCache({ now: () => clock.now });
    for (let i = 0; i < 1_000_000; i++) {
      clock.now = T0 + Math.floor(i / 2); // 2,000 requests/s for 500 s
      expect(cache.checkAndRecord('LTAI5tEXAMPLE', `nonce-${i}`)).toBe(true);
    }
    expect(cache.size).toBe(1_000_000);
    for (let i = 0; i < 1_000_000; i += 997) expect(cache.checkAndRecord('LTAI5tEXAMPLE', `nonce-${i}`)).toBe(false);
  });

  it('serves sustained traffic past 31 minutes by dropping expired slices (no cap at the window size)', () => {
    const clock = { now: T0 };
    const cache = new NonceCache({ now: () => clock.now, maxEntries: 40_000 });
    // 20 requests/s for 40 minutes = 48,000 nonces, more than maxEntries, but never more than ~37,200 live.
    for (let i = 0; i < 48_000; i++) {
      clock.now = T0 + i * 50;
      cache.record('ak', `n${i}`);
    }
    expect(cache.size).toBeLessThanOrEqual(40_000);
    expect(cache.seen('ak', 'n47999')).toBe(true);
    expect(cache.seen('ak', 'n0')).toBe(false);
  });
});
