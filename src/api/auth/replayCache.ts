import { ApiError } from '../../errors/apiError';

/**
 * How long a nonce stays remembered. A timestamp is accepted while it is within the skew window (15 min) on
 * either side of the server clock, so one request can be presented for 2 × 15 min; keeping nonces longer
 * than that closes replay for good. 31 min is what Alibaba's gateway does (protocol §7 item 6).
 */
export const DEFAULT_NONCE_TTL_MS = 31 * 60 * 1000;

/** Upper bound on remembered nonces; roughly 150 MB at 64-character nonces when full. */
export const DEFAULT_NONCE_MAX_ENTRIES = 1_000_000;

/** How often {@link NonceCache.record} drops expired entries from the front when the cache is not full. */
export const DEFAULT_NONCE_SWEEP_INTERVAL_MS = 1_000;

/** Options of {@link NonceCache}; every field has a default. */
export interface NonceCacheOptions {
  /** Time a nonce stays remembered, ms. Must be at least twice the timestamp skew window. */
  ttlMs?: number;
  /** Most nonces remembered at once. */
  maxEntries?: number;
  /** Minimum time between two opportunistic sweeps, ms. */
  sweepIntervalMs?: number;
  /** The clock (ms since the epoch), injected so tests can move time. */
  now?: () => number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`NonceCache ${name} must be a positive number`);
  return value;
}

/**
 * The replay window: which (AccessKeyId, SignatureNonce) pairs were used in the last `ttlMs`.
 *
 * Entries live in one `Map` in insertion order. Nonces are recorded with the current time, so insertion
 * order is time order and expired entries are always at the front: a sweep deletes from the front and stops
 * at the first live entry, which makes the cost amortised O(1) per request. (If the clock steps back, an
 * entry may sit behind a newer one a little longer; that costs memory only, never a wrong answer, because
 * {@link seen} checks each entry's own age.)
 *
 * Memory is bounded by `maxEntries`. When the cache is full of *live* nonces, {@link record} refuses the
 * request with `ServiceUnavailable` rather than evicting: silently forgetting a live nonce would re-open
 * replay for exactly the requests an attacker is flooding to push out. Only expired entries are ever evicted.
 */
export class NonceCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  private readonly sweepIntervalMs: number;
  private readonly now: () => number;
  /** Key → time recorded (ms). */
  private readonly entries = new Map<string, number>();
  private nextSweepAt = Number.NEGATIVE_INFINITY;

  constructor(options: NonceCacheOptions = {}) {
    this.ttlMs = positive('ttlMs', options.ttlMs ?? DEFAULT_NONCE_TTL_MS);
    this.maxEntries = positive('maxEntries', options.maxEntries ?? DEFAULT_NONCE_MAX_ENTRIES);
    this.sweepIntervalMs = positive('sweepIntervalMs', options.sweepIntervalMs ?? DEFAULT_NONCE_SWEEP_INTERVAL_MS);
    this.now = options.now ?? Date.now;
  }

  /** Number of entries held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether `nonce` was recorded for `accessKeyId` less than `ttlMs` before `now`. */
  seen(accessKeyId: string, nonce: string, now: number = this.now()): boolean {
    const at = this.entries.get(entryKey(accessKeyId, nonce));
    return at !== undefined && now - at < this.ttlMs;
  }

  /**
   * Remembers `nonce` for `accessKeyId` as used at `now`. Call it only after the request's signature
   * verified, or anyone could burn other clients' nonces.
   *
   * @throws ApiError `ServiceUnavailable` when `maxEntries` live nonces are held (see the class comment).
   */
  record(accessKeyId: string, nonce: string, now: number = this.now()): void {
    if (now >= this.nextSweepAt || this.entries.size >= this.maxEntries) this.sweep(now);
    const key = entryKey(accessKeyId, nonce);
    // Re-recording (only possible once the old entry expired) must move the key to the back to keep
    // insertion order equal to time order, hence delete-then-set.
    if (!this.entries.delete(key) && this.entries.size >= this.maxEntries) {
      throw new ApiError('ServiceUnavailable', 'The replay-protection window is full; retry later.');
    }
    this.entries.set(key, now);
  }

  /** Drops the expired entries at the front of the cache; returns how many were dropped. */
  sweep(now: number = this.now()): number {
    this.nextSweepAt = now + this.sweepIntervalMs;
    let dropped = 0;
    for (const [key, at] of this.entries) {
      if (now - at < this.ttlMs) break;
      this.entries.delete(key);
      dropped++;
    }
    return dropped;
  }
}

/** One string per (AccessKeyId, nonce); the length prefix keeps `("ab", "c")` apart from `("a", "bc")`. */
function entryKey(accessKeyId: string, nonce: string): string {
  return accessKeyId.length + ':' + accessKeyId + nonce;
}
