import { z } from 'zod';
import { CAS_SIGNATURE_NAMES, casSignatureAlgorithm } from '../../crypto/algorithms';
import { ApiError, invalidParameter, missingParameter } from '../../errors/apiError';
import type { TokenRegistry, Located } from '../../token/tokenRegistry';
import { signBlind } from '../shared/blind';
import { casMessageType, casSubject } from '../shared/messages';
import { assertAlgorithmFits, assertNotCaSigner, assertUsable, signCms, signWith } from '../shared/signing';
import { defineOperation } from '../types';

export const casCertificateSelector = {
  CertIdentifier: z.string().min(1).optional(),
  CustomIdentifier: z.string().min(1).optional(),
  WarehouseId: z.coerce.number().int().positive().optional(),
};

/**
 * Finds the certificate of a CAS call: `CertIdentifier`, or `CustomIdentifier` (a unique key, optionally
 * within `WarehouseId`). Unknown: CAS's `NotFound` (400), its public error table's code.
 */
export function locateCas(
  tokens: TokenRegistry,
  p: { CertIdentifier?: string | undefined; CustomIdentifier?: string | undefined; WarehouseId?: number | undefined },
): Located {
  if (p.WarehouseId !== undefined && !tokens.byWarehouse(p.WarehouseId)) {
    throw invalidParameter('WarehouseId', `no warehouse ${p.WarehouseId}.`);
  }
  let located: Located | undefined;
  if (p.CertIdentifier !== undefined) located = tokens.locate(p.CertIdentifier, p.WarehouseId);
  else if (p.CustomIdentifier !== undefined)
    located =
      tokens.locateCustom(p.CustomIdentifier, p.WarehouseId) ?? tokens.locate(p.CustomIdentifier, p.WarehouseId);
  else throw missingParameter('CertIdentifier');
  if (!located) throw new ApiError('NotFound');
  return located;
}

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
  async handle(ctx, p) {
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
