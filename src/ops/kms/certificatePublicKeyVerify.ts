import { z } from 'zod';
import { KMS_SIGNATURE_NAMES, kmsSignatureAlgorithm } from '../../crypto/algorithms';
import { invalidParameter } from '../../errors/apiError';
import { locateKms } from '../shared/lookup';
import { decodeBase64, kmsSubject } from '../shared/messages';
import { assertVerifiable, verifySignature } from '../shared/verifying';
import type { CertificatePublicKeyVerifyResult } from '../results';
import { defineOperation } from '../types';

/** KMS `CertificatePublicKeyVerify` (2016-01-20): verifies a signature with the certificate's public key, in software. */
export const certificatePublicKeyVerify = defineOperation({
  product: 'kms',
  action: 'CertificatePublicKeyVerify',
  ramAction: 'kms:CertificatePublicKeyVerify',
  params: z.object({
    CertificateId: z.string().min(1),
    Algorithm: z.string().min(1),
    MessageType: z.enum(['RAW', 'DIGEST']).default('RAW'),
    Message: z.string(),
    SignatureValue: z.string().min(1),
  }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<CertificatePublicKeyVerifyResult> {
    const alg = kmsSignatureAlgorithm(p.Algorithm);
    if (!alg) throw invalidParameter('Algorithm', `expected one of ${KMS_SIGNATURE_NAMES.join(', ')}.`);
    const subject = kmsSubject(p.MessageType, p.Message, alg);
    const signature = decodeBase64('SignatureValue', p.SignatureValue);
    const located = locateKms(ctx, p.CertificateId);
    assertVerifiable(located.entry, alg, p.Algorithm, 'Algorithm');
    return {
      CertificateId: located.entry.id,
      SignatureValid: verifySignature(located.entry.publicKey, alg, subject, signature, located.token.sm2UserId),
    };
  },
});
