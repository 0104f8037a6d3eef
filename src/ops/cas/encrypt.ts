import { z } from 'zod';
import { decodeBase64 } from '../shared/messages';
import { assertEncryptionFits, encryptFor, findEncryptionAlgorithm } from '../shared/encryption';
import type { CasEncryptResult } from '../results';
import { defineOperation } from '../types';
import { casCertificateSelector, locateCas } from '../shared/lookup';

/**
 * CAS `Encrypt` (2020-04-07): RSAES-OAEP with the certificate's public key, in software. `MessageType` RAW
 * (default) encrypts the UTF-8 bytes of `Plaintext`; `Base64` decodes it first (case-insensitive).
 */
export const casEncrypt = defineOperation({
  product: 'cas',
  action: 'Encrypt',
  ramAction: 'yundun-cert:Encrypt',
  params: z.object({
    ...casCertificateSelector,
    Algorithm: z.string().min(1),
    Plaintext: z.string().min(1),
    MessageType: z
      .string()
      .toUpperCase()
      .pipe(z.enum(['RAW', 'BASE64']))
      .default('RAW'),
  }),
  resource: (p) => p.CertIdentifier ?? p.CustomIdentifier,
  async handle(ctx, p): Promise<CasEncryptResult> {
    const alg = findEncryptionAlgorithm(p.Algorithm);
    const plaintext = p.MessageType === 'BASE64' ? decodeBase64('Plaintext', p.Plaintext) : Buffer.from(p.Plaintext);
    const located = locateCas(ctx.tokens, p);
    ctx.assertCanUse(located.entry.id);
    assertEncryptionFits(located, alg, 'CertIdentifier');
    const ciphertext = encryptFor(located, alg, plaintext, 'Plaintext');
    return { CertIdentifier: located.entry.id, CiphertextBlob: ciphertext.toString('base64') };
  },
});
