import { z } from 'zod';
import { assertEncryptionFits, decryptWith, findEncryptionAlgorithm } from '../shared/encryption';
import { locateKms } from '../shared/lookup';
import { decodeBase64 } from '../shared/messages';
import type { CertificatePrivateKeyDecryptResult } from '../results';
import { defineOperation } from '../types';

/** KMS `CertificatePrivateKeyDecrypt` (2016-01-20): RSAES-OAEP decryption with the private key, in the token. */
export const certificatePrivateKeyDecrypt = defineOperation({
  product: 'kms',
  action: 'CertificatePrivateKeyDecrypt',
  ramAction: 'kms:CertificatePrivateKeyDecrypt',
  params: z.object({
    CertificateId: z.string().min(1),
    Algorithm: z.string().min(1),
    CiphertextBlob: z.string().min(1),
  }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<CertificatePrivateKeyDecryptResult> {
    const alg = findEncryptionAlgorithm(p.Algorithm);
    const ciphertext = decodeBase64('CiphertextBlob', p.CiphertextBlob);
    const located = locateKms(ctx, p.CertificateId);
    assertEncryptionFits(located, alg, 'CertificateId');
    const plaintext = await decryptWith(located, alg, ciphertext, ctx.log, ctx.requestId);
    return { CertificateId: located.entry.id, Plaintext: plaintext.toString('base64') };
  },
});
