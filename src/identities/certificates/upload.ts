import type { X509Certificate } from 'node:crypto';
import { spkiEquals } from '../../crypto/keys';
import { ApiError, invalidParameter } from '../../errors/apiError';
import { replaceCertificates } from '../../token/certificateObjects';
import { buildChain } from '../../token/keyIndex';
import type { CertificateStatus } from '../../token/metadata';
import { storeMetadata } from '../../token/objects';
import type { TokenManager } from '../../token/tokenManager';
import { parseCertificates } from './inputs';
import { statusAfterUpload, withStatus } from './records';

export interface UploadResult {
  readonly status: CertificateStatus;
  /** True when a previous certificate was replaced (renewal). */
  readonly replaced: boolean;
}

/**
 * KMS UploadCertificate: stores the certificate of a key pair on the token, and its chain. The certificate's
 * public key must be the key pair's; the chain (optional) must parse and be the issuer chain of the
 * certificate, in any order (nearest issuer first is how it is returned). A previous certificate and chain
 * (renewal) are replaced: the new objects are written first, then the old ones destroyed. A PENDING certificate
 * becomes ACTIVE; any other status is kept (re-uploading never re-enables a disabled or revoked certificate).
 */
export async function uploadCertificate(
  token: TokenManager,
  id: string,
  certificatePem: string,
  chainPem?: string,
  now: Date = new Date(),
): Promise<UploadResult> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  const certs = parseCertificates('Certificate', certificatePem);
  if (certs.length !== 1) throw invalidParameter('Certificate', `expected one certificate, got ${certs.length}.`);
  const leaf = certs[0] as X509Certificate;
  let sameKey: boolean;
  try {
    sameKey = spkiEquals(leaf.publicKey.export({ type: 'spki', format: 'der' }), entry.spki);
  } catch {
    sameKey = false;
  }
  if (!sameKey) {
    throw invalidParameter('Certificate', 'its public key is not the public key of the key pair of this certificate.');
  }
  const given =
    chainPem === undefined || chainPem.trim() === ''
      ? []
      : parseCertificates('CertificateChain', chainPem).filter((c) => !c.raw.equals(leaf.raw));
  const chain = buildChain(leaf, given);
  if (chain.length !== given.length) {
    throw invalidParameter(
      'CertificateChain',
      'every certificate must be in the issuer chain of Certificate (its issuer, the issuer of that, and so on).',
    );
  }
  if (entry.ckaId.length === 0) {
    throw new ApiError(
      'UnsupportedOperation',
      'The key pair of this certificate has no CKA_ID on the token, so no certificate can be linked to it.',
    );
  }
  const replaced = await replaceCertificates(token, id, entry.ckaId, leaf.raw, chain);
  const status = statusAfterUpload(entry.metadata.status);
  await storeMetadata(token, id, withStatus(entry.metadata, status, now));
  await token.identityChanged(id, { full: true });
  return { status, replaced };
}
