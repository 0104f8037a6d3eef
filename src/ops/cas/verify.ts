import { z } from 'zod';
import { casSignatureAlgorithm } from '../../crypto/algorithms';
import { invalidParameter } from '../../errors/apiError';
import { casMessageType, casVerifySubjects, decodeBase64 } from '../shared/messages';
import { CAS_VERIFY_NAMES, assertVerifiable, verifySignature } from '../shared/verifying';
import type { CasVerifyResult } from '../results';
import { defineOperation } from '../types';
import { casCertificateSelector, locateCas } from '../shared/lookup';

/**
 * CAS `Verify` (2020-04-07): verifies a signature with a repository certificate's public key, in software.
 * A RAW `Message` is read both as `Sign` reads it (so that Verify(Sign(m)) holds) and as the `Verify` documentation
 * says (Base64): valid when either reading verifies (decision 0008).
 */
export const casVerify = defineOperation({
  product: 'cas',
  action: 'Verify',
  ramAction: 'yundun-cert:Verify',
  params: z.object({
    ...casCertificateSelector,
    Message: z.string(),
    MessageType: casMessageType(['RAW', 'BASE64', 'DIGEST']),
    SigningAlgorithm: z.string().min(1),
    SignatureValue: z.string().min(1),
  }),
  resource: (p) => p.CertIdentifier ?? p.CustomIdentifier,
  async handle(ctx, p): Promise<CasVerifyResult> {
    const alg = casSignatureAlgorithm(p.SigningAlgorithm);
    if (!alg || alg.encoding === 'cms') {
      throw invalidParameter('SigningAlgorithm', `expected one of ${CAS_VERIFY_NAMES.join(', ')}.`);
    }
    const subjects = casVerifySubjects(p.MessageType, p.Message, alg, ctx.config.cas.rawMessageEncoding);
    const signature = decodeBase64('SignatureValue', p.SignatureValue);
    const located = locateCas(ctx.tokens, p);
    ctx.assertCanUse(located.entry.id);
    assertVerifiable(located.entry, alg, p.SigningAlgorithm, 'SigningAlgorithm');
    const { publicKey } = located.entry;
    return {
      SignatureValid: subjects.some((s) => verifySignature(publicKey, alg, s, signature, located.token.sm2UserId)),
    };
  },
});
