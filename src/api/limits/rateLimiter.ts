import { ApiError } from '../../errors/apiError';

/** A key's rate: `qps` tokens per second into a bucket of `burst` tokens. */
export interface Rate {
  readonly qps: number;
  readonly burst: number;
}

interface Bucket {
  rate: Rate;
  tokens: number;
  at: number;
}

/**
 * Token buckets, one per access key: a request takes a token or is refused at once with `Throttling.User` and
 * `x-acs-retry-after` (the ms until a token is back). Nothing queues, so a throttled key costs no memory and
 * no session. Keys without a rate are not limited. `setRates` keeps the tokens of keys whose rate stays, so a
 * reload neither refills nor drains a bucket.
 */
export class RateLimiter {
  #buckets = new Map<string, Bucket>();

  /** Replaces the rates; keys absent from `rates` (or mapped to undefined) are no longer limited. */
  setRates(rates: ReadonlyMap<string, Rate | undefined>, now: number): void {
    const next = new Map<string, Bucket>();
    for (const [id, rate] of rates) {
      if (!rate) continue;
      const old = this.#buckets.get(id);
      if (old) {
        refill(old, now);
        next.set(id, { rate, tokens: Math.min(old.tokens, rate.burst), at: now });
      } else {
        next.set(id, { rate, tokens: rate.burst, at: now });
      }
    }
    this.#buckets = next;
  }

  /**
   * Takes one token for `accessKeyId`.
   * @throws ApiError `Throttling.User` with `x-acs-retry-after` when the key's bucket is empty.
   */
  take(accessKeyId: string, now: number): void {
    const b = this.#buckets.get(accessKeyId);
    if (!b) return;
    refill(b, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const waitMs = Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / b.rate.qps));
    throw new ApiError(
      'Throttling.User',
      'Request was denied due to user flow control: this AccessKey exceeds its request rate.',
      {
        headers: { 'x-acs-retry-after': String(waitMs) },
      },
    );
  }
}

function refill(b: Bucket, now: number): void {
  if (now > b.at) {
    b.tokens = Math.min(b.rate.burst, b.tokens + ((now - b.at) * b.rate.qps) / 1000);
    b.at = now;
  }
}
