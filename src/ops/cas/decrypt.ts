import { z } from 'zod';
import { invalidParameter } from '../../errors/apiError';
import { decodeBase64 } from '../shared/messages';
import { assertEncryptionFits, decryptWith, findEncryptionAlgorithm } from '../shared/encryption';
import type { CasDecryptResult } from '../results';
import { defineOperation } from '../types';
import { casCertificateSelector, locateCas } from '../shared/lookup';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * CAS `Decrypt` (2020-04-07): RSAES-OAEP decryption with the certificate's private key, in the token.
 * `MessageType` Base64 (default) returns the plaintext base64; RAW returns it as UTF-8 text.
 */
export const casDecrypt = defineOperation({
  product: 'cas',
  action: 'Decrypt',
  ramAction: 'yundun-cert:Decrypt',
  params: z.object({
    ...casCertificateSelector,
    Algorithm: z.string().min(1),
    CiphertextBlob: z.string().min(1),
    MessageType: z
      .string()
      .toUpperCase()
      .pipe(z.enum(['RAW', 'BASE64']))
      .default('BASE64'),
  }),
  resource: (p) => p.CertIdentifier ?? p.CustomIdentifier,
  async handle(ctx, p): Promise<CasDecryptResult> {
    const alg = findEncryptionAlgorithm(p.Algorithm);
    const ciphertext = decodeBase64('CiphertextBlob', p.CiphertextBlob);
    const located = locateCas(ctx.tokens, p);
    ctx.assertCanUse(located.entry.id);
    assertEncryptionFits(located, alg, 'CertIdentifier');
    const plaintext = await decryptWith(located, alg, ciphertext, ctx.log, ctx.requestId);
    let text: string;
    if (p.MessageType === 'RAW') {
      try {
        text = utf8.decode(plaintext);
      } catch {
        throw invalidParameter('MessageType', 'the plaintext is not UTF-8 text; ask for MessageType=Base64.');
      }
    } else text = plaintext.toString('base64');
    return { CertIdentifier: located.entry.id, Plaintext: text };
  },
});
