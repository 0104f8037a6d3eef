/** Why a request cannot become a token call (see PlanError). */
export type PlanErrorReason = 'input' | 'unsupported';

/**
 * Thrown by the planners (signPlan.ts, sm2Plan.ts) when a request cannot become a token call. `reason` says why in
 * this floor's terms; the cloud code is chosen once, by the translator of lower-floor errors
 * (src/api/lowerFloorErrors.ts `toApiError`):
 * - `input`: the value does not fit the algorithm (a digest of the wrong length), or the token lists no mechanism for
 *   a standard algorithm (answered as an algorithm the key cannot use);
 * - `unsupported`: the token's SM2 HSM profile cannot make this signature or decryption.
 */
export class PlanError extends Error {
  readonly reason: PlanErrorReason;

  constructor(reason: PlanErrorReason, message: string) {
    super(message);
    this.name = 'PlanError';
    this.reason = reason;
  }
}
