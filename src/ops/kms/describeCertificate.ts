import { z } from 'zod';
import { keySpecRow } from '../../crypto/algorithms';
import { certificateFacts, formatKeyIdentifier } from '../../identities/certificates/facts';
import { kmsDate } from '../../identities/certificates/records';
import { locateKms } from '../shared/lookup';
import type { DescribeCertificateResult } from '../results';
import { defineOperation } from '../types';

/**
 * KMS `DescribeCertificate` (2016-01-20). Dates are `YYYY-MM-DDThh:mm:ssZ`; `Serial` is upper-case hex;
 * `SubjectKeyIdentifier` is upper-case hex pairs separated by spaces (`79 36 26 DE …`);
 * `ExportablePrivateKey` is always false. Fields the identity does not have are omitted: a PENDING certificate
 * has no Issuer, Serial or validity; an identity provisioned without CreateCertificate has no CreatedAt.
 */
export const describeCertificate = defineOperation({
  product: 'kms',
  action: 'DescribeCertificate',
  ramAction: 'kms:DescribeCertificate',
  params: z.object({ CertificateId: z.string().min(1) }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<DescribeCertificateResult> {
    const located = locateKms(ctx, p.CertificateId);
    const f = certificateFacts(located.entry, ctx.config.server);
    const cert = f.certificate;
    const algorithm = f.keySpec !== undefined ? keySpecRow(f.keySpec)?.describeAlgorithm : undefined;
    return {
      Arn: f.arn,
      CertificateId: f.id,
      ...(f.createdAt !== undefined ? { CreatedAt: f.createdAt } : {}),
      ...(f.updatedAt !== undefined ? { UpdatedAt: f.updatedAt } : {}),
      ...(cert ? { NotBefore: kmsDate(cert.notBefore), NotAfter: kmsDate(cert.notAfter) } : {}),
      ExportablePrivateKey: f.exportablePrivateKey,
      ...(cert ? { Issuer: cert.issuer, Serial: cert.serial } : {}),
      ...(f.subject !== undefined ? { Subject: f.subject } : {}),
      ...(f.keySpec !== undefined ? { KeySpec: f.keySpec } : {}),
      ...(algorithm !== undefined ? { SignatureAlgorithm: algorithm } : {}),
      Status: f.status,
      SubjectAlternativeNames: f.subjectAlternativeNames,
      SubjectKeyIdentifier: formatKeyIdentifier(f.subjectKeyIdentifier),
      SubjectPublicKey: f.subjectPublicKeyPem,
      Tags: f.tags,
    };
  },
});
