import { PlanError, type PlanErrorReason } from '../crypto/planError';
import { ApiError } from '../errors/apiError';
import type { ErrorCode } from '../errors/catalogue';
import { classify, type FaultClass } from '../token/ckr';
import {
  KeyNotFoundFault,
  TokenCapabilityFault,
  TokenFault,
  UNAVAILABLE_RETRY_AFTER_MS,
  type TokenFaultKind,
} from '../token/faults';

/**
 * The one place where an error of a floor below the operations becomes the cloud's answer (decision 0022): the
 * token's faults and its PKCS#11 errors (sorted into classes by src/token/ckr.ts) and the planners' refusals
 * (src/crypto/planError.ts) get their code, their message and their `x-acs-retry-after` header here; the product's
 * own code for a generic one is chosen later, by productErrors.ts. The response never carries a CKR: the cause is
 * kept for the log. Anything that is not an error of those floors is an InternalError.
 */

/** The cloud code of each reason a planner (src/crypto/signPlan.ts, sm2Plan.ts) refuses a request for. */
const PLAN_CODES: Readonly<Record<PlanErrorReason, ErrorCode>> = {
  input: 'InvalidParameter',
  unsupported: 'UnsupportedOperation',
};

/** The cloud code of each kind of token fault: a full queue is throttling, the rest is a passing outage. */
const FAULT_CODES: Readonly<Record<TokenFaultKind, ErrorCode>> = {
  busy: 'Throttling.User',
  timeout: 'ServiceUnavailable',
  unavailable: 'ServiceUnavailable',
  closed: 'ServiceUnavailable',
};

/** `x-acs-retry-after` in milliseconds, as the cloud's gateway sends it. */
function retryAfter(ms: number): Record<string, string> {
  return { 'x-acs-retry-after': String(ms) };
}

/** The answer to a PKCS#11 error of each class (the rungs of the recovery ladder run in the token layer). */
function forClass(fault: FaultClass, err: unknown): ApiError {
  switch (fault) {
    case 'input':
      // Reached only when our own pre-checks (key type, lengths) missed a case.
      return new ApiError('InvalidParameter', 'The token refused the request for this key and algorithm.', {
        cause: err,
      });
    case 'internal':
      return new ApiError('InternalError', undefined, { cause: err });
    default:
      return new ApiError('ServiceUnavailable', undefined, {
        cause: err,
        headers: retryAfter(UNAVAILABLE_RETRY_AFTER_MS),
      });
  }
}

/**
 * The cloud error for anything an operation threw: an ApiError as it is; a token fault, a PKCS#11 error or a
 * planner's refusal as the cloud answers it; anything else as InternalError (its message never reaches the caller).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof PlanError) return new ApiError(PLAN_CODES[err.reason], err.message, { cause: err });
  if (err instanceof TokenFault) {
    return new ApiError(FAULT_CODES[err.kind], undefined, {
      cause: err,
      headers: retryAfter(err.retryAfterMs),
      // Only a call that passed its deadline is news; an unavailable, closed or busy token was logged when it
      // became so.
      expected: err.kind !== 'timeout',
    });
  }
  // The key went away between the operation's lookup and the token call: answered as the lookup would have.
  if (err instanceof KeyNotFoundFault) return new ApiError('Certificate.NotFound', undefined, { cause: err });
  if (err instanceof TokenCapabilityFault) return new ApiError('UnsupportedOperation', err.message, { cause: err });
  return forClass(classify(err), err);
}
