import { createHash } from 'node:crypto';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../../crypto/algorithms';
import { buildSignedData } from '../../crypto/cmsSignedData';
import type { SignSubject } from '../../crypto/signPlan';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { KeyEntry } from '../../token/keyIndex';
import type { Located } from '../../token/tokenRegistry';

/**
 * Refuses a private-key operation the certificate's state forbids (UpdateCertificateStatus):
 * PENDING has no certificate yet; INACTIVE and REVOKED refuse to sign or decrypt.
 */
export function assertUsable(entry: KeyEntry): void {
  // Fail closed: metadata missing, damaged or duplicated, or an ambiguous label / CKA_ID (src/token/keyIndex.ts).
  if (entry.problem !== undefined) {
    throw new ApiError(
      'Rejected.Disabled',
      'The request was rejected because the certificate cannot be used: its lifecycle state on the token needs an operator.',
    );
  }
  switch (entry.metadata.status) {
    case 'PENDING':
      throw new ApiError('Rejected.Pending');
    case 'INACTIVE':
      throw new ApiError('Rejected.Disabled');
    case 'REVOKED':
      throw new ApiError('Rejected.Revoked');
    default:
  }
}

/**
 * Fail-closed (issue 16): a CA key (basicConstraints cA=TRUE) does not sign through the API unless
 * `policy.caSigners` names it. Signing an arbitrary digest with it would let a caller forge certificates.
 */
export function assertNotCaSigner(entry: KeyEntry, caSigners: readonly string[]): void {
  if (entry.isCA && !caSigners.includes(entry.id)) {
    throw invalidParameter(
      'CertificateId',
      'the key of this certificate is a CA key, which does not sign through the API unless policy.caSigners names it.',
    );
  }
}

/**
 * Checks, before the token is touched, that the algorithm fits the key (SoftHSM2 answers a mismatch with an
 * opaque CKR_GENERAL_ERROR: facts §7) and that this token can serve it.
 */
export function assertAlgorithmFits(located: Located, alg: SignatureAlgorithm, name: string, param: string): void {
  const { entry, token } = located;
  const where = `the token behind warehouse ${token.warehouseId}`;
  // A token without SM2 cannot serve SM2DSA/SM3withSM2 for any certificate: say so before the key-spec
  // check, which would otherwise blame the certificate (an RSA or P-256 key) for what the token lacks.
  if (alg.tokenWide && !token.capabilities.signatureAlgorithms.includes(alg.id)) {
    throw new ApiError('UnsupportedOperation', alg.unavailableOn(where, name));
  }
  if (entry.keySpec === undefined || !alg.fitsKey(entry)) {
    throw invalidParameter(
      param,
      `${name} does not match the key spec ${entry.keySpec ?? entry.keyType} of this certificate.`,
    );
  }
  if (!entry.canSign) throw invalidParameter(param, 'the key of this certificate is not allowed to sign.');
  if (!token.supports(entry, alg)) {
    throw new ApiError('UnsupportedOperation', alg.unavailableOn(where, name));
  }
}

/** A signature made by the token with the certificate's private key, encoded as the cloud returns it. */
export async function signWith(located: Located, alg: SignatureAlgorithm, subject: SignSubject): Promise<Buffer> {
  return located.token.sign(located.entry.id, alg, subject);
}

const PKCS1 = SIGNATURE_ALGORITHMS.find((a) => a.id === 'RSA_PKCS1_SHA_256') as SignatureAlgorithm;

/**
 * CAS `SHA256withRSA/P7`: a CMS SignedData (protocol §9.6) whose RSA signature over the signed attributes is
 * made by the token. Detached unless configured attached (a DIGEST request can only be detached).
 */
export async function signCms(
  located: Located,
  subject: SignSubject,
  opts: { attached: boolean; includeChain: boolean; now: Date },
): Promise<Buffer> {
  const cert = located.entry.certificate;
  if (!cert) throw new ApiError('Rejected.Pending');
  const messageDigest = subject.kind === 'digest' ? subject.digest : createHash('sha256').update(subject.data).digest();
  return buildSignedData({
    ...(opts.attached && subject.kind === 'message' ? { content: subject.data } : {}),
    messageDigest,
    signerCertificate: cert.raw,
    chain: opts.includeChain ? [...located.entry.chain] : [],
    signingTime: opts.now,
    signer: (signedAttrs) => located.token.sign(located.entry.id, PKCS1, { kind: 'message', data: signedAttrs }),
  });
}
