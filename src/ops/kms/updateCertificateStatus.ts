import { z } from 'zod';
import { setCertificateStatus } from '../../identities/certificates/lifecycle';
import { locateKms } from '../shared/lookup';
import type { EmptyResult } from '../results';
import { defineOperation } from '../types';

/**
 * KMS `UpdateCertificateStatus` (2016-01-20): ACTIVE, INACTIVE (no signing, decryption, encryption or
 * verification) or REVOKED (verification only). Recorded in the certificate's metadata object on the token.
 */
export const updateCertificateStatus = defineOperation({
  product: 'kms',
  action: 'UpdateCertificateStatus',
  ramAction: 'kms:UpdateCertificateStatus',
  params: z.object({
    CertificateId: z.string().min(1),
    Status: z.enum(['ACTIVE', 'INACTIVE', 'REVOKED']),
  }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<EmptyResult> {
    const located = locateKms(ctx, p.CertificateId);
    await setCertificateStatus(located.token, located.entry.id, p.Status);
    return {};
  },
});
