import { constants, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../../crypto/algorithms';
import { ecdsaVerifyDigest, rsaPkcs1VerifyDigest, rsaPssVerifyDigest } from '../../crypto/digestVerify';
import type { SignSubject } from '../../crypto/signPlan';
import { SM2_DEFAULT_USER_ID, sm2PublicPointOfSpki, sm2Verify, sm2VerifyE } from '../../crypto/sm2';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { KeyEntry } from '../../token/keyIndex';

/** CAS `Verify` algorithms: every CAS signing algorithm except the CMS one (`SHA256withRSA/P7`). */
export const CAS_VERIFY_NAMES = SIGNATURE_ALGORITHMS.flatMap((a) => (a.casName && a.verifiable ? [a.casName] : []));

/**
 * Checks, before any work, that a signature of `alg` can be verified with this entry's public key: the algorithm
 * fits the key (InvalidParameter otherwise, as for signing), and the certificate is not INACTIVE (a disabled
 * certificate is not used at all; REVOKED still verifies, PENDING verifies with the key pair's public key).
 * SM2 is verified in software with the signer's user ID (src/crypto/sm2.ts; node:crypto cannot set it).
 */
export function assertVerifiable(entry: KeyEntry, alg: SignatureAlgorithm, name: string, param: string): void {
  if (!alg.verifiable) throw invalidParameter(param, `${name} signatures are not verified by this operation.`);
  if (entry.keySpec === undefined || !alg.fitsKey(entry)) {
    throw invalidParameter(
      param,
      `${name} does not match the key spec ${entry.keySpec ?? entry.keyType} of this certificate.`,
    );
  }
  if (entry.metadata.status === 'INACTIVE') throw new ApiError('Rejected.Disabled');
}

/**
 * Verifies a signature in software with the certificate's public key (a public-key operation: the token is not
 * involved). RAW messages go through node:crypto; DIGEST values through src/crypto/digestVerify.ts. RSA-PSS
 * accepts any salt length (the cloud signs with 32, protocol §12.4). ECDSA signatures are DER, as the cloud
 * returns them. A signature that cannot even be parsed is simply not valid: false, never an error.
 */
export function verifySignature(
  publicKey: KeyObject,
  alg: SignatureAlgorithm,
  subject: SignSubject,
  signature: Buffer,
  sm2UserId: string = SM2_DEFAULT_USER_ID,
): boolean {
  const pss = alg.verify.pss !== undefined;
  try {
    if (alg.encoding === 'sm2-der') return verifySm2(publicKey, subject, signature, sm2UserId);
    if (subject.kind === 'message') {
      if (alg.encoding === 'ecdsa-der') {
        return cryptoVerify(alg.verify.nodeHash, subject.data, { key: publicKey, dsaEncoding: 'der' }, signature);
      }
      return cryptoVerify(
        alg.verify.nodeHash,
        subject.data,
        pss
          ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
          : { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
        signature,
      );
    }
    if (alg.encoding === 'ecdsa-der') return ecdsaVerifyDigest(publicKey, subject.digest, signature);
    return pss
      ? rsaPssVerifyDigest(publicKey, 'sha256', subject.digest, signature, 'any')
      : rsaPkcs1VerifyDigest(publicKey, 'sha256', subject.digest, signature);
  } catch {
    return false;
  }
}

/** SM2 (GB/T 32918.2 §7): over the message with the signer's user ID, or over a DIGEST that is e itself. */
function verifySm2(publicKey: KeyObject, subject: SignSubject, signature: Buffer, userId: string): boolean {
  const point = sm2PublicPointOfSpki(publicKey.export({ type: 'spki', format: 'der' }));
  return subject.kind === 'message'
    ? sm2Verify(point, subject.data, signature, userId)
    : sm2VerifyE(point, subject.digest, signature);
}
