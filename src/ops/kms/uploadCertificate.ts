import { z } from 'zod';
import { uploadCertificate as uploadToToken } from '../../identities/certificates/upload';
import { locateKms } from '../shared/lookup';
import type { EmptyResult } from '../results';
import { defineOperation } from '../types';

/**
 * KMS `UploadCertificate` (2016-01-20): stores the issued certificate (its public key must be the key pair's)
 * and its chain on the token; PENDING becomes ACTIVE. Uploading again (renewal) replaces both.
 */
export const uploadCertificate = defineOperation({
  product: 'kms',
  action: 'UploadCertificate',
  ramAction: 'kms:UploadCertificate',
  params: z.object({
    CertificateId: z.string().min(1),
    Certificate: z.string().min(1),
    CertificateChain: z.string().optional(),
  }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<EmptyResult> {
    const located = locateKms(ctx, p.CertificateId);
    await uploadToToken(located.token, located.entry.id, p.Certificate, p.CertificateChain);
    return {};
  },
});
