/**
 * Where authentication records the nonces it has accepted. In one process that is a {@link NonceCache}
 * (synchronous); in a cluster the primary holds the one cache every worker asks (src/cluster/), so the answer
 * arrives later. Either way the check and the record are one step: two requests with the same nonce can never
 * both be told it is fresh.
 */
export interface NonceStore {
  /**
   * True (and the nonce is recorded) when `nonce` is fresh for `accessKeyId`; false when it was seen within the
   * window. Throws (or rejects with) `ApiError` `ServiceUnavailable` when the window is full.
   */
  checkAndRecord(accessKeyId: string, nonce: string, now: number): boolean | Promise<boolean>;
  /**
   * True when the store applies each key's rate in the same step as the claim (Redis: one bucket shared by every
   * replica); the process's own limiter then stands aside.
   */
  readonly enforcesRates?: boolean;
}

/** A store that answers at once (the in-process cache). */
export interface SyncNonceStore extends NonceStore {
  checkAndRecord(accessKeyId: string, nonce: string, now: number): boolean;
}
