import { z } from 'zod';
import { certificateFacts } from '../../identities/certificates/facts';
import { locateKms } from '../shared/lookup';
import type { GetCertificateResult } from '../results';
import { defineOperation } from '../types';

/**
 * KMS `GetCertificate` (2016-01-20): the certificate, its chain (nearest issuer first) and the CSR, as PEM.
 * A PENDING certificate has only its CSR; an identity provisioned without CreateCertificate has no CSR.
 */
export const getCertificate = defineOperation({
  product: 'kms',
  action: 'GetCertificate',
  ramAction: 'kms:GetCertificate',
  params: z.object({ CertificateId: z.string().min(1) }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<GetCertificateResult> {
    const located = locateKms(ctx, p.CertificateId);
    const facts = certificateFacts(located.entry, ctx.config.server);
    return {
      CertificateId: facts.id,
      ...(facts.certificate ? { Certificate: facts.certificate.pem, CertificateChain: facts.chainPem } : {}),
      ...(facts.csrPem !== undefined ? { Csr: facts.csrPem } : {}),
    };
  },
});
