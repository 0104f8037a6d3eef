import { z } from 'zod';
import { assertEncryptionFits, encryptFor, findEncryptionAlgorithm } from '../shared/encryption';
import { locateKms } from '../shared/lookup';
import { decodeBase64 } from '../shared/messages';
import type { CertificatePublicKeyEncryptResult } from '../results';
import { defineOperation } from '../types';

/** KMS `CertificatePublicKeyEncrypt` (2016-01-20): RSAES-OAEP with the certificate's public key, in software. */
export const certificatePublicKeyEncrypt = defineOperation({
  product: 'kms',
  action: 'CertificatePublicKeyEncrypt',
  ramAction: 'kms:CertificatePublicKeyEncrypt',
  params: z.object({
    CertificateId: z.string().min(1),
    Algorithm: z.string().min(1),
    Plaintext: z.string().min(1),
  }),
  resource: (p) => p.CertificateId,
  async handle(ctx, p): Promise<CertificatePublicKeyEncryptResult> {
    const alg = findEncryptionAlgorithm(p.Algorithm);
    const plaintext = decodeBase64('Plaintext', p.Plaintext);
    const located = locateKms(ctx, p.CertificateId);
    assertEncryptionFits(located, alg, 'CertificateId');
    const ciphertext = encryptFor(located, alg, plaintext, 'Plaintext');
    return { CertificateId: located.entry.id, CiphertextBlob: ciphertext.toString('base64') };
  },
});
