import { z } from 'zod';
import { ApiError } from '../../errors/apiError';
import { certificateFacts, issuerEntry } from '../../identities/certificates/facts';
import { certType, describeStatus, warehouseInstanceId } from '../shared/repository';
import type { DescribeWarehouseCertResult } from '../results';
import { defineOperation } from '../types';
import { casCertificateSelector, locateCas } from '../shared/lookup';

/**
 * CAS `DescribeWarehouseCert` (2020-04-07, 2026 docs): the certificate PEM with its chain, and its facts.
 * `IssuerIdentifier` names the issuing certificate when the same token holds it (the demo CA does).
 */
export const describeWarehouseCert = defineOperation({
  product: 'cas',
  action: 'DescribeWarehouseCert',
  ramAction: 'yundun-cert:DescribeWarehouseCert',
  params: z.object({ ...casCertificateSelector }),
  resource: (p) => p.CertIdentifier ?? p.CustomIdentifier,
  async handle(ctx, p): Promise<DescribeWarehouseCertResult> {
    const located = locateCas(ctx.tokens, p);
    ctx.assertCanUse(located.entry.id);
    const facts = certificateFacts(located.entry, ctx.config.server);
    const cert = facts.certificate;
    if (!cert) throw new ApiError('Rejected.Pending');
    const issuer = issuerEntry(located.entry, located.token.entries());
    return {
      Content: cert.pem + facts.chainPem,
      Fingerprint: cert.fingerprintSha1,
      WarehouseInstanceId: warehouseInstanceId(located.token.warehouseId),
      CertIdentifier: located.entry.id,
      CertStatus: describeStatus(facts.status),
      CertType: certType(located.entry),
      CommonName: cert.commonName,
      Issuer: cert.issuerName,
      ...(issuer ? { IssuerIdentifier: issuer.id } : {}),
    };
  },
});
