import type { Cluster, Redis } from 'ioredis';
import type { NonceStore } from '../api/auth/nonceStore';
import type { Config } from '../config/schema';
import { ApiError } from '../errors/apiError';
import { CLAIM_WITH_RATE_LUA } from './claimScript';
import type { RedisLink } from './redisLink';

/** A key's shared rate: `qps` tokens per second into a bucket of `burst`. */
interface SharedRate {
  qps: number;
  burst: number;
}

type ClaimClient = (Redis | Cluster) & {
  p11bClaim(nonceKey: string, bucketKey: string, ttlMs: number, qps: number, burst: number): Promise<number>;
};

/** The message of the service-unavailable answer while Redis cannot be asked. */
const REDIS_UNAVAILABLE_MESSAGE = 'The replay-protection window is not reachable; retry later.';

/**
 * The replay window in Redis (issue 17): one window for every replica and every restart. A nonce is claimed with
 * `SET key 1 PX ttl NX` (atomic: two replicas can never both be told a nonce is fresh), under a key per access key;
 * a key with a rate claims through one script that takes a token from the key's shared bucket first. Every path
 * fails closed: no answer from Redis, no request ({@link RedisLink}).
 */
export class RedisNonceStore implements NonceStore {
  readonly enforcesRates = true;
  readonly #link: RedisLink;
  readonly #client: ClaimClient;
  readonly #ttlMs: number;
  #rates = new Map<string, SharedRate>();

  constructor(link: RedisLink, config: Config) {
    this.#link = link;
    this.#ttlMs = config.auth.nonceTtlSeconds * 1000;
    link.client.defineCommand('p11bClaim', { numberOfKeys: 2, lua: CLAIM_WITH_RATE_LUA });
    this.#client = link.client as ClaimClient;
    this.setRates(config);
  }

  /** Takes the keys' rates from a (reloaded) config: whole rates, shared by every replica and worker. */
  setRates(config: Config): void {
    const next = new Map<string, SharedRate>();
    for (const k of config.auth.accessKeys) {
      if (k.qps !== undefined) next.set(k.id, { qps: k.qps, burst: k.burst ?? Math.max(1, Math.ceil(k.qps)) });
    }
    this.#rates = next;
  }

  checkAndRecord(accessKeyId: string, nonce: string): Promise<boolean> {
    if (!this.#link.usable()) return Promise.reject(unavailable(this.#link.health().reason));
    // The hash tag keeps a key's nonces and bucket in one Cluster slot (the script touches both).
    const base = `${this.#link.prefix}{${accessKeyId}}`;
    const nonceKey = `${base}:n:${nonce}`;
    const rate = this.#rates.get(accessKeyId);
    const claim: Promise<number> = rate
      ? this.#client.p11bClaim(nonceKey, `${base}:rate`, this.#ttlMs, rate.qps, rate.burst)
      : this.#client.set(nonceKey, '1', 'PX', this.#ttlMs, 'NX').then((r) => (r === 'OK' ? 1 : 0));
    return claim.then(
      (r) => {
        if (r >= 0) return r === 1;
        throw new ApiError(
          'Throttling.User',
          'Request was denied due to user flow control: this AccessKey exceeds its request rate.',
          { headers: { 'x-acs-retry-after': String(-r) } },
        );
      },
      (e: unknown) => {
        this.#link.failed(e);
        throw unavailable(e instanceof Error ? e.message : String(e), e);
      },
    );
  }
}

function unavailable(reason: string | undefined, cause?: unknown): ApiError {
  // Reported once where it arose (the link logs the change of state): one debug line per refused request.
  return new ApiError('ServiceUnavailable', REDIS_UNAVAILABLE_MESSAGE, {
    cause: cause ?? new Error(reason ?? 'Redis unavailable'),
    expected: true,
  });
}
