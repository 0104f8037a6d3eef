import { randomInt } from 'node:crypto';
import { ApiError } from '../../errors/apiError';

/**
 * How long a nonce stays remembered. A timestamp is accepted while it is within the skew window (15 min) on
 * either side of the server clock, so one request can be presented for 2 × 15 min; keeping nonces longer
 * than that closes replay for good. 31 min is what Alibaba's gateway does (protocol §7 item 6).
 */
export const DEFAULT_NONCE_TTL_MS = 31 * 60 * 1000;

/**
 * Upper bound on remembered nonces: 8M entries cover 4,300 requests/s sustained for 31 minutes, per process.
 * An entry costs at most 36 bytes (a 64-bit hash and a time in typed arrays at ≤ 50 % load, plus a flag), so a
 * full cache holds about 290 MB; memory is taken as traffic comes, not up front.
 */
const DEFAULT_NONCE_MAX_ENTRIES = 8_000_000;

/** The `ServiceUnavailable` message when the window is full (the cluster's workers repeat it). */
export const WINDOW_FULL_MESSAGE = 'The replay-protection window is full; retry later.';

/** The `Throttling.User` message when one key holds its whole share of the window. */
export const SHARE_FULL_MESSAGE =
  'Request was denied due to user flow control: this AccessKey holds its full share of the replay-protection window.';

/** How often {@link NonceCache.record} drops expired buckets when the cache is not full. */
const DEFAULT_NONCE_SWEEP_INTERVAL_MS = 1_000;

/** Options of {@link NonceCache}; every field has a default. */
export interface NonceCacheOptions {
  /** Time a nonce stays remembered, ms. Must be at least twice the timestamp skew window. */
  ttlMs?: number;
  /** Most nonces remembered at once. */
  maxEntries?: number;
  /** Minimum time between two opportunistic sweeps, ms. */
  sweepIntervalMs?: number;
  /** Access keys the window is shared among (see {@link NonceCache.setSharingKeys}); default 1. */
  sharingKeys?: number;
  /** The clock (ms since the epoch), injected so tests can move time. */
  now?: () => number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`NonceCache ${name} must be a positive number`);
  return value;
}

/**
 * The nonces recorded in one time slice: an open-addressing hash set of 64-bit keys with each entry's time,
 * in typed arrays (no per-entry object: millions of entries cost no GC work). Never deleted from: a bucket is
 * dropped whole once its newest entry has expired.
 */
class Bucket {
  readonly slice: number;
  count = 0;
  newest = Number.NEGATIVE_INFINITY;
  /** Entries of each access key in this bucket, for the per-key share. */
  readonly perKey = new Map<string, number>();
  #mask: number;
  #used: Uint8Array;
  #hi: Uint32Array;
  #lo: Uint32Array;
  #at: Float64Array;

  constructor(slice: number, capacity = 1024) {
    this.slice = slice;
    this.#mask = capacity - 1;
    this.#used = new Uint8Array(capacity);
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#at = new Float64Array(capacity);
  }

  /** The time `hi:lo` was recorded in this bucket, or -1. */
  find(hi: number, lo: number): number {
    for (let i = lo & this.#mask; this.#used[i] === 1; i = (i + 1) & this.#mask) {
      if (this.#lo[i] === lo && this.#hi[i] === hi) return this.#at[i] as number;
    }
    return -1;
  }

  add(hi: number, lo: number, at: number): void {
    if ((this.count + 1) * 2 > this.#mask + 1) this.#grow();
    let i = lo & this.#mask;
    while (this.#used[i] === 1) {
      if (this.#lo[i] === lo && this.#hi[i] === hi) {
        this.#at[i] = at;
        this.newest = Math.max(this.newest, at);
        return;
      }
      i = (i + 1) & this.#mask;
    }
    this.#used[i] = 1;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#at[i] = at;
    this.count++;
    this.newest = Math.max(this.newest, at);
  }

  #grow(): void {
    const [used, hi, lo, at] = [this.#used, this.#hi, this.#lo, this.#at];
    const capacity = (this.#mask + 1) * 2;
    this.#mask = capacity - 1;
    this.#used = new Uint8Array(capacity);
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#at = new Float64Array(capacity);
    this.count = 0;
    for (let i = 0; i < used.length; i++)
      if (used[i] === 1) this.add(hi[i] as number, lo[i] as number, at[i] as number);
  }
}

/**
 * The replay window: which (AccessKeyId, SignatureNonce) pairs were used in the last `ttlMs`.
 *
 * A pair is kept as a 64-bit keyed hash (seeded per process), in one bucket per time slice of `ttlMs / 31`;
 * each entry keeps its own time, so the window is exact to the millisecond. Expired buckets are dropped whole,
 * which makes the cost O(1) per request without deletions. A hash collision could only make a request look
 * replayed (a false refusal, with probability about entries / 2^64), never let a replay through.
 *
 * Memory is bounded by `maxEntries`. When the cache is full of *live* nonces, {@link record} refuses the
 * request with `ServiceUnavailable` rather than evicting: silently forgetting a live nonce would re-open
 * replay for exactly the requests an attacker is flooding to push out.
 *
 * The window is shared fairly among the `sharingKeys` configured access keys (issue 16): half of it is split
 * into equal guarantees, one per key, and the other half is a pool any key may borrow from. A key past its
 * guarantee when the pool is spent is refused with `Throttling.User` (its own problem) instead of filling the
 * window and pushing every key into `ServiceUnavailable`. Entries ≤ keys × guarantee + pool = `maxEntries`,
 * so a key that stays within its guarantee is never refused for space, whatever the others do.
 */
export class NonceCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  private readonly sweepIntervalMs: number;
  private readonly sliceMs: number;
  private readonly now: () => number;
  private readonly seed = randomInt(0x7fffffff);
  /** Oldest first. */
  private readonly buckets: Bucket[] = [];
  private total = 0;
  private nextSweepAt = Number.NEGATIVE_INFINITY;
  private hi = 0;
  private lo = 0;
  /** Live entries per access key (expired ones not yet swept included). */
  private readonly keyCounts = new Map<string, number>();
  private guarantee = 0;
  private pool = 0;
  /** Σ max(0, count − guarantee) over keys: what the keys borrow from the pool. */
  private borrowed = 0;

  constructor(options: NonceCacheOptions = {}) {
    this.ttlMs = positive('ttlMs', options.ttlMs ?? DEFAULT_NONCE_TTL_MS);
    this.maxEntries = positive('maxEntries', options.maxEntries ?? DEFAULT_NONCE_MAX_ENTRIES);
    this.sweepIntervalMs = positive('sweepIntervalMs', options.sweepIntervalMs ?? DEFAULT_NONCE_SWEEP_INTERVAL_MS);
    this.sliceMs = Math.max(1, Math.floor(this.ttlMs / 31));
    this.now = options.now ?? Date.now;
    this.setSharingKeys(options.sharingKeys ?? 1);
  }

  /**
   * Sets how many access keys share the window (the enabled keys of the config; a reload calls it again). Each
   * is guaranteed `maxEntries / (2 × keys)` entries; one key alone may use the whole window.
   */
  setSharingKeys(keys: number): void {
    const n = Math.max(1, Math.floor(keys));
    this.guarantee = Math.floor(this.maxEntries / (2 * n));
    this.pool = this.maxEntries - n * this.guarantee;
    this.borrowed = 0;
    for (const c of this.keyCounts.values()) this.borrowed += Math.max(0, c - this.guarantee);
  }

  /** Entries `accessKeyId` holds in the window. */
  countOf(accessKeyId: string): number {
    return this.keyCounts.get(accessKeyId) ?? 0;
  }

  /** Number of entries held, expired ones not yet swept included. */
  get size(): number {
    return this.total;
  }

  /** Whether `nonce` was recorded for `accessKeyId` less than `ttlMs` before `now`. */
  seen(accessKeyId: string, nonce: string, now: number = this.now()): boolean {
    this.hash(accessKeyId, nonce);
    return this.lookup(now);
  }

  /**
   * Remembers `nonce` for `accessKeyId` as used at `now`. Call it only after the request's signature
   * verified, or anyone could burn other clients' nonces.
   *
   * @throws ApiError `ServiceUnavailable` when `maxEntries` live nonces are held (see the class comment).
   */
  record(accessKeyId: string, nonce: string, now: number = this.now()): void {
    this.hash(accessKeyId, nonce);
    this.insert(accessKeyId, now);
  }

  /**
   * `seen` then `record` with one hash: false (and nothing recorded) when the nonce is already in the window.
   * @throws ApiError `ServiceUnavailable` as {@link record}.
   */
  checkAndRecord(accessKeyId: string, nonce: string, now: number = this.now()): boolean {
    this.hash(accessKeyId, nonce);
    if (this.lookup(now)) return false;
    this.insert(accessKeyId, now);
    return true;
  }

  /** Drops the buckets whose entries have all expired; returns how many entries were dropped. */
  sweep(now: number = this.now()): number {
    this.nextSweepAt = now + this.sweepIntervalMs;
    let dropped = 0;
    while (this.buckets.length > 0 && now - (this.buckets[0] as Bucket).newest >= this.ttlMs) {
      const bucket = this.buckets.shift() as Bucket;
      dropped += bucket.count;
      for (const [id, n] of bucket.perKey) {
        const before = this.keyCounts.get(id) ?? 0;
        const after = before - n;
        this.borrowed -= Math.max(0, before - this.guarantee) - Math.max(0, after - this.guarantee);
        if (after > 0) this.keyCounts.set(id, after);
        else this.keyCounts.delete(id);
      }
    }
    this.total -= dropped;
    return dropped;
  }

  private lookup(now: number): boolean {
    for (let b = this.buckets.length - 1; b >= 0; b--) {
      const at = (this.buckets[b] as Bucket).find(this.hi, this.lo);
      if (at >= 0 && now - at < this.ttlMs) return true;
    }
    return false;
  }

  private insert(accessKeyId: string, now: number): void {
    if (now >= this.nextSweepAt || this.total >= this.maxEntries) this.sweep(now);
    if (this.total >= this.maxEntries) {
      throw new ApiError('ServiceUnavailable', WINDOW_FULL_MESSAGE);
    }
    const held = this.keyCounts.get(accessKeyId) ?? 0;
    if (held >= this.guarantee && this.borrowed >= this.pool) {
      this.sweep(now);
      if (this.borrowed >= this.pool && (this.keyCounts.get(accessKeyId) ?? 0) >= this.guarantee) {
        throw new ApiError('Throttling.User', SHARE_FULL_MESSAGE, {
          headers: { 'x-acs-retry-after': String(this.retryAfterMs(accessKeyId, now)) },
        });
      }
    }
    const slice = Math.floor(now / this.sliceMs);
    let bucket = this.buckets[this.buckets.length - 1];
    if (!bucket || bucket.slice !== slice) {
      bucket = new Bucket(slice);
      this.buckets.push(bucket);
    }
    const before = bucket.count;
    bucket.add(this.hi, this.lo, now);
    if (bucket.count === before) return;
    this.total += 1;
    bucket.perKey.set(accessKeyId, (bucket.perKey.get(accessKeyId) ?? 0) + 1);
    const count = (this.keyCounts.get(accessKeyId) ?? 0) + 1;
    this.keyCounts.set(accessKeyId, count);
    if (count > this.guarantee) this.borrowed += 1;
  }

  /** Ms until the oldest bucket holding entries of `accessKeyId` expires (frees some of its share). */
  private retryAfterMs(accessKeyId: string, now: number): number {
    for (const b of this.buckets) {
      if (b.perKey.has(accessKeyId)) return Math.max(1, Math.ceil(b.newest + this.ttlMs - now));
    }
    return this.sliceMs;
  }

  /**
   * A keyed 64-bit hash (cyrb53's mixing, two 32-bit lanes) of the AccessKeyId, a separator carrying its
   * length, and the nonce: `("ab","c")` and `("a","bc")` differ. Results go to `hi`/`lo` (no allocation).
   */
  private hash(accessKeyId: string, nonce: string): void {
    let h1 = 0xdeadbeef ^ this.seed;
    let h2 = 0x41c6ce57 ^ this.seed;
    for (let i = 0; i < accessKeyId.length; i++) {
      const c = accessKeyId.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    const sep = 0x10000 + accessKeyId.length;
    h1 = Math.imul(h1 ^ sep, 2654435761);
    h2 = Math.imul(h2 ^ sep, 1597334677);
    for (let i = 0; i < nonce.length; i++) {
      const c = nonce.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    this.hi = h1 >>> 0;
    this.lo = h2 >>> 0;
  }
}
