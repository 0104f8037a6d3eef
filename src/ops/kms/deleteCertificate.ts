import { z } from 'zod';
import { deleteCertificate as deleteFromToken } from '../../identities/certificates/lifecycle';
import { locateKms } from '../shared/lookup';
import type { EmptyResult } from '../results';
import { defineOperation } from '../types';

/** KMS `DeleteCertificate` (2016-01-20): destroys the key pair, the certificate, its stored chain and its metadata. */
export const deleteCertificate = defineOperation({
  product: 'kms',
  action: 'DeleteCertificate',
  ramAction: 'kms:DeleteCertificate',
  params: z.object({ CertificateId: z.string().min(1) }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<EmptyResult> {
    const located = locateKms(ctx, p.CertificateId);
    await deleteFromToken(located.token, located.entry.id);
    return {};
  },
});
