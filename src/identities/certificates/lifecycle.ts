import { ApiError } from '../../errors/apiError';
import { destroyIdentityObjects } from '../../token/certificateObjects';
import type { CertificateStatus } from '../../token/metadata';
import { storeMetadata } from '../../token/objects';
import type { TokenManager } from '../../token/tokenManager';
import { withStatus } from './records';

/**
 * The states of a certificate after issuance (KMS UpdateCertificateStatus, DeleteCertificate). Everything lives ON
 * THE TOKEN (key pair, certificate, chain, metadata object), so every daemon in front of the same HSM sees the same
 * state; every write re-reads the identity from the token first and re-indexes it after.
 */

/**
 * KMS UpdateCertificateStatus: ACTIVE, INACTIVE (refuses private-key use) or REVOKED (verify only). A PENDING
 * certificate has nothing to enable or disable yet (Rejected.Pending). Revocation is reversible here, as the
 * cloud's documentation does not forbid it.
 */
export async function setCertificateStatus(
  token: TokenManager,
  id: string,
  status: Exclude<CertificateStatus, 'PENDING'>,
  now: Date = new Date(),
): Promise<void> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  if (entry.metadata.status === 'PENDING' && entry.certificate === undefined) throw new ApiError('Rejected.Pending');
  // Writing the status also repairs missing, damaged or duplicated metadata (storeMetadata leaves one object).
  if (entry.metadata.status === status && entry.problem === undefined) return;
  await storeMetadata(token, id, withStatus(entry.metadata, status, now));
  await token.identityChanged(id);
}

/**
 * KMS DeleteCertificate: destroys the key pair, the certificate, the chain certificates stored for it and its
 * metadata. The private key goes first (the identity is gone even if a later step fails) and the metadata
 * last (a half-deleted identity must never reappear as ACTIVE). Returns the number of objects destroyed.
 */
export async function deleteCertificate(token: TokenManager, id: string): Promise<number> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  const n = await destroyIdentityObjects(token, id, entry.ckaId, entry);
  await token.identityChanged(id);
  return n;
}
