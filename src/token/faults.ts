/**
 * The token layer's own errors (beside the PKCS#11 errors a module raises, which src/token/ckr.ts names and sorts).
 * They know nothing of HTTP or of the cloud's codes: the API layer (src/api/lowerFloorErrors.ts) answers each of
 * them, and each CKR fault class, with the product's code and headers in one place (decision 0022).
 */
export type TokenFaultKind =
  /** A token call passed its deadline; the thread (and the session it holds) stay quarantined until it returns. */
  | 'timeout'
  /** The token cannot serve now (recovering, a PIN the token refused, a hang being waited out): `reason` says why. */
  | 'unavailable'
  /** Every session is busy and the wait queue is full, or the wait passed its limit. */
  | 'busy'
  /** The token was closed (shutdown). */
  | 'closed';

/**
 * How long a caller is told to wait before it tries again, when the thrower has no better idea: a token that is
 * down or recovering is given a second (the ladder's rungs take about that long).
 */
export const UNAVAILABLE_RETRY_AFTER_MS = 1000;

export interface TokenFaultOptions {
  /** For `timeout`: settles when the late call finally returns (its session can be closed then). */
  readonly settled?: Promise<void>;
  /** The thrower's hint of when to try again, in milliseconds (default UNAVAILABLE_RETRY_AFTER_MS). */
  readonly retryAfterMs?: number;
}

/** The token cannot serve this call now (see TokenFaultKind); the caller may try again after `retryAfterMs`. */
export class TokenFault extends Error {
  readonly kind: TokenFaultKind;
  /** For `timeout`: settles when the late call finally returns (its session can be closed then). */
  readonly settled: Promise<void> | undefined;
  /** When to try again, in milliseconds: data for the layer that answers the caller (a header, a log line). */
  readonly retryAfterMs: number;

  constructor(kind: TokenFaultKind, message: string, options: TokenFaultOptions = {}) {
    super(message);
    this.name = 'TokenFault';
    this.kind = kind;
    this.settled = options.settled;
    this.retryAfterMs = options.retryAfterMs ?? UNAVAILABLE_RETRY_AFTER_MS;
  }
}

/** True for a TokenFault of one of the given kinds (any kind when none is given). */
export function isTokenFault(e: unknown, ...kinds: TokenFaultKind[]): e is TokenFault {
  return e instanceof TokenFault && (kinds.length === 0 || kinds.includes(e.kind));
}

/**
 * No key of this identifier (a certificate identity) or label (a key pair) is in the token's index: it was deleted
 * between the caller's lookup and the private-key operation, or never existed.
 */
export class KeyNotFoundFault extends Error {
  readonly id: string;

  constructor(id: string) {
    super(`no key "${id}" in the token's index`);
    this.name = 'KeyNotFoundFault';
    this.id = id;
  }
}

/**
 * The token cannot do what was asked of it at all (for example generate a key type its HSM profile does not
 * name): not a passing fault, and no retry helps. The message is written for the caller.
 */
export class TokenCapabilityFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenCapabilityFault';
  }
}
