import { z } from 'zod';
import { KMS_SIGNATURE_NAMES, kmsSignatureAlgorithm } from '../../crypto/algorithms';
import { ApiError, invalidParameter } from '../../errors/apiError';
import { kmsSubject } from '../shared/messages';
import { assertAlgorithmFits, assertNotCaSigner, assertUsable, signWith } from '../shared/signing';
import type { CertificatePrivateKeySignResult } from '../results';
import { defineOperation } from '../types';

/** KMS `CertificatePrivateKeySign` (2016-01-20): sign with a certificate's private key, in the token. */
export const certificatePrivateKeySign = defineOperation({
  product: 'kms',
  action: 'CertificatePrivateKeySign',
  ramAction: 'kms:CertificatePrivateKeySign',
  params: z.object({
    CertificateId: z.string().min(1),
    Algorithm: z.string().min(1),
    MessageType: z.enum(['RAW', 'DIGEST']).default('RAW'),
    Message: z.string(),
  }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<CertificatePrivateKeySignResult> {
    const alg = kmsSignatureAlgorithm(p.Algorithm);
    if (!alg) throw invalidParameter('Algorithm', `expected one of ${KMS_SIGNATURE_NAMES.join(', ')}.`);
    const subject = kmsSubject(p.MessageType, p.Message, alg);
    const located = ctx.tokens.locate(p.CertificateId);
    if (!located) throw new ApiError('Certificate.NotFound');
    assertUsable(located.entry);
    assertNotCaSigner(located.entry, ctx.config.policy.caSigners);
    assertAlgorithmFits(located, alg, p.Algorithm, 'Algorithm');
    const signature = await signWith(located, alg, subject);
    return { CertificateId: located.entry.id, SignatureValue: signature.toString('base64') };
  },
});
