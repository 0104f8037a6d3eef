import { z } from 'zod';
import { CAS_SIGNATURE_NAMES, casSignatureAlgorithm } from '../../crypto/algorithms';
import { invalidParameter } from '../../errors/apiError';
import { signBlind } from '../shared/blind';
import { casCertificateSelector, locateCas } from '../shared/lookup';
import { casMessageType, casSubject } from '../shared/messages';
import { assertAlgorithmFits, assertNotCaSigner, assertUsable, signCms, signWith } from '../shared/signing';
import type { CasSignResult } from '../results';
import { defineOperation } from '../types';

/** CAS `Sign` (2020-04-07): sign with a repository certificate's private key, in the token. */
export const casSign = defineOperation({
  product: 'cas',
  action: 'Sign',
  ramAction: 'yundun-cert:Sign',
  params: z.object({
    ...casCertificateSelector,
    Message: z.string(),
    MessageType: casMessageType(['RAW', 'BASE64', 'DIGEST', 'BLIND']),
    SigningAlgorithm: z.string().min(1),
  }),
  resource: (p) => p.CertIdentifier ?? p.CustomIdentifier,
  async handle(ctx, p): Promise<CasSignResult> {
    const alg = casSignatureAlgorithm(p.SigningAlgorithm);
    if (!alg) throw invalidParameter('SigningAlgorithm', `expected one of ${CAS_SIGNATURE_NAMES.join(', ')}.`);
    if (p.MessageType === 'BLIND') {
      const located = locateCas(ctx.tokens, p);
      ctx.assertCanUse(located.entry.id);
      const signature = await signBlind(located, alg, p.Message, ctx.config.cas.blindSigning.certificates);
      return { Signature: signature.toString('base64') };
    }
    const subject = casSubject(p.MessageType, p.Message, alg, ctx.config.cas.rawMessageEncoding);
    const located = locateCas(ctx.tokens, p);
    ctx.assertCanUse(located.entry.id);
    assertUsable(located.entry);
    assertNotCaSigner(located.entry, ctx.config.policy.caSigners);
    assertAlgorithmFits(located, alg, p.SigningAlgorithm, 'SigningAlgorithm');
    const signature =
      alg.encoding === 'cms'
        ? await signCms(located, subject, { ...ctx.config.cas.p7, now: new Date() })
        : await signWith(located, alg, subject);
    return { Signature: signature.toString('base64') };
  },
});
