import { kmsSigningAlgorithmsFor, type SignatureAlgorithm } from '../../crypto/algorithms';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { KeyEntry } from '../../token/keyIndex';
import type { KmsKey, KmsKeyVersion } from './keyView';
import type { KmsKeyUsage } from './record';

/**
 * Refuses any cryptographic use of a key its state forbids: `409 Rejected.Disabled` for Disabled,
 * `409 Rejected.PendingDeletion` while a deletion is scheduled (KMS "impact of key state").
 */
export function assertKeyEnabled(key: KmsKey): void {
  if (key.record.state === 'Disabled') {
    throw new ApiError('Rejected.Disabled', 'The request was rejected because the key state is Disabled.');
  }
  if (key.record.state === 'PendingDeletion') throw new ApiError('Rejected.PendingDeletion');
}

/** Refuses a key whose usage is not `usage` (a signing call on an ENCRYPT/DECRYPT key, and the reverse). */
export function assertKeyUsage(key: KmsKey, usage: KmsKeyUsage): void {
  if (key.record.keyUsage !== usage) {
    throw new ApiError(
      'UnsupportedOperation',
      `The key usage is ${key.record.keyUsage}; this operation needs ${usage}.`,
    );
  }
}

/**
 * The version a request names (`KeyVersionId` is required by the cloud for every crypto call). An unknown version
 * is `404 Forbidden.KeyNotFound` with its own message (decision 0016).
 */
export function versionOf(key: KmsKey, versionId: string): KmsKeyVersion {
  const v = key.versions.find((x) => x.versionId === versionId);
  if (!v) throw new ApiError('Forbidden.KeyNotFound', 'The specified key version is not found.');
  return v;
}

/**
 * The key pair of a version, refusing (fail closed) a version whose key pair is missing from the token or is
 * ambiguous there: the record promises key material the token does not hold as it should.
 */
export function keyPairOf(version: KmsKeyVersion): KeyEntry {
  const kp = version.keyPair;
  if (!kp || kp.problem !== undefined) {
    throw new ApiError(
      'Rejected.Disabled',
      'The request was rejected because the key material of this key version is missing or ambiguous on the token.',
    );
  }
  return kp;
}

/** The signing algorithm for a key's spec, or `InvalidParameter` naming the ones that fit. */
export function signingAlgorithm(key: KmsKey, name: string): SignatureAlgorithm {
  const allowed = kmsSigningAlgorithmsFor(key.record.keySpec);
  const alg = allowed.find((a) => a.kmsName === name);
  if (!alg) {
    throw invalidParameter(
      'Algorithm',
      `a ${key.record.keySpec} key signs with ${allowed.map((a) => a.label).join(' or ')}.`,
    );
  }
  return alg;
}
