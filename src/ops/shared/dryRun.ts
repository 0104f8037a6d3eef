import { ApiError, invalidParameter } from '../../errors/apiError';

/**
 * KMS `DryRun` (2016-01-20, M25: AsymmetricSign, AsymmetricVerify, AsymmetricEncrypt, AsymmetricDecrypt,
 * GetPublicKey). As Alibaba's other products do with the parameter, a dry run checks the request (parameters,
 * permissions, key state, algorithm, what the token can do) and answers `400 DryRunOperation` where the call would
 * have succeeded, or the call's own error otherwise; it never uses the private key (docs/decisions/0023).
 */

/** Whether `DryRun` asks for a dry run: `true` or `false` (any case), absent is `false`. */
export function isDryRun(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalidParameter('DryRun', 'expected true or false.');
}

/** The answer to a dry run whose checks all passed (thrown where the call would do its work). */
export function dryRunPassed(): ApiError {
  return new ApiError('DryRunOperation', undefined, { expected: true });
}
