/**
 * The token layer's own faults (beside the PKCS#11 errors a module raises): they know nothing of HTTP; ckr.ts
 * turns them, like CKR codes, into the cloud's errors at the token layer's edge.
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

export class TokenFault extends Error {
  readonly kind: TokenFaultKind;
  /** For `timeout`: settles when the late call finally returns (its session can be closed then). */
  readonly settled: Promise<void> | undefined;

  constructor(kind: TokenFaultKind, message: string, settled?: Promise<void>) {
    super(message);
    this.name = 'TokenFault';
    this.kind = kind;
    this.settled = settled;
  }
}

/** True for a TokenFault of one of the given kinds (any kind when none is given). */
export function isTokenFault(e: unknown, ...kinds: TokenFaultKind[]): e is TokenFault {
  return e instanceof TokenFault && (kinds.length === 0 || kinds.includes(e.kind));
}
