import { kmsEncryptionAlgorithmsFor, type EncryptionAlgorithm } from '../../crypto/algorithms';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { KmsKey, KmsKeyVersion } from '../../identities/keys/keyView';
import { assertKeyEnabled, assertKeyUsage, keyPairOf, versionOf } from '../../identities/keys/usage';
import type { Located } from '../../token/tokenRegistry';
import type { OpContext } from '../types';
import { locateKey } from './keys';

/** A KMS key version ready for AsymmetricEncrypt/Decrypt: the key, the version, its key pair and the algorithm. */
export interface KeyEncryption {
  readonly key: KmsKey;
  readonly version: KmsKeyVersion;
  /** The version's key pair on its token, in the shape the shared encryption code takes. */
  readonly located: Located;
  readonly alg: EncryptionAlgorithm;
}

/**
 * Resolves and checks a key for AsymmetricEncrypt/Decrypt, before any work: Enabled, ENCRYPT/DECRYPT, an algorithm
 * of its spec (`InvalidParameter` otherwise), a version whose key pair is on the token, and a token whose capability
 * probe proved the decryption mechanism. Encryption is refused with it: a ciphertext the token cannot decrypt is
 * data nobody can recover (SoftHSM2 2.6.1 decrypts OAEP with SHA-1 only: `RSAES_OAEP_SHA_256` is
 * `Rejected.UnsupportedOperation` there).
 */
export function keyEncryption(
  ctx: OpContext,
  p: { KeyId: string; KeyVersionId: string; Algorithm: string },
): KeyEncryption {
  const key = locateKey(ctx, p.KeyId);
  assertKeyEnabled(key);
  assertKeyUsage(key, 'ENCRYPT/DECRYPT');
  // KMS names only (CAS's `RSAESOAEPSHA_1` spelling is not a KMS value), of the rows that fit the key's spec.
  const allowed = kmsEncryptionAlgorithmsFor(key.record.keySpec);
  const alg = allowed.find((a) => a.name === p.Algorithm);
  if (!alg) {
    throw invalidParameter(
      'Algorithm',
      `a ${key.record.keySpec} key encrypts with ${allowed.map((a) => a.name).join(' or ')}.`,
    );
  }
  const version = versionOf(key, p.KeyVersionId);
  const entry = keyPairOf(version);
  const token = key.token;
  const proved = token.capabilities.decryptionAlgorithms.includes(alg.name);
  if (!entry.canDecrypt || !proved || !alg.servedBy(token.sm2Profile)) {
    throw new ApiError(
      'UnsupportedOperation',
      `${alg.name} is not supported by the token holding this key: it cannot decrypt it (its capability probe ` +
        `found no working ${alg.name} decryption), so this daemon does not encrypt with it either.`,
    );
  }
  return { key, version, located: { token, entry }, alg };
}
