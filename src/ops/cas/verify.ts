import { z } from 'zod';
import { casSignatureAlgorithm } from '../../crypto/algorithms';
import { invalidParameter } from '../../errors/apiError';
import { casSubject, decodeBase64 } from '../shared/messages';
import { CAS_VERIFY_NAMES, assertVerifiable, verifySignature } from '../shared/verifying';
import { defineOperation } from '../types';
import { casCertificateSelector, locateCas } from './sign';

/**
 * CAS `Verify` (2020-04-07): verifies a signature with a repository certificate's public key, in software.
 * `Message`/`MessageType` are read exactly as `Sign` reads them, so that Verify(Sign(m)) holds.
 */
export const casVerify = defineOperation({
  product: 'cas',
  action: 'Verify',
  ramAction: 'yundun-cert:Verify',
  params: z.object({
    ...casCertificateSelector,
    Message: z.string(),
    MessageType: z.enum(['RAW', 'BASE64', 'DIGEST']).default('RAW'),
    SigningAlgorithm: z.string().min(1),
    SignatureValue: z.string().min(1),
  }),
  resource: (p) => p.CertIdentifier ?? p.CustomIdentifier,
  async handle(ctx, p) {
    const alg = casSignatureAlgorithm(p.SigningAlgorithm);
    if (!alg || alg.encoding === 'cms') {
      throw invalidParameter('SigningAlgorithm', `expected one of ${CAS_VERIFY_NAMES.join(', ')}.`);
    }
    const subject = casSubject(p.MessageType, p.Message, alg, ctx.config.cas.rawMessageEncoding);
    const signature = decodeBase64('SignatureValue', p.SignatureValue);
    const located = locateCas(ctx.tokens, p);
    ctx.assertCanUse(located.entry.id);
    assertVerifiable(located.entry, alg, p.SigningAlgorithm, 'SigningAlgorithm');
    return {
      SignatureValid: verifySignature(located.entry.publicKey, alg, subject, signature, located.token.sm2UserId),
    };
  },
});
