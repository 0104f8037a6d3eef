import { z } from 'zod';
import { encryptFor } from '../shared/encryption';
import { keyEncryption } from '../shared/keyEncryption';
import { dryRunPassed, isDryRun } from '../shared/dryRun';
import { decodeBase64 } from '../shared/messages';
import { defineOperation } from '../types';

/**
 * KMS `AsymmetricEncrypt` (2016-01-20): RSAES-OAEP (or SM2PKE) with a key version's public key, in software (a
 * public-key operation), only for algorithms the token can decrypt (src/ops/shared/keyEncryption.ts).
 */
export const asymmetricEncrypt = defineOperation({
  product: 'kms',
  action: 'AsymmetricEncrypt',
  ramAction: 'kms:AsymmetricEncrypt',
  params: z.object({
    KeyId: z.string().min(1),
    KeyVersionId: z.string().min(1),
    Algorithm: z.string().min(1),
    Plaintext: z.string().min(1),
    DryRun: z.string().optional(),
  }),
  handle(ctx, p) {
    const dryRun = isDryRun(p.DryRun);
    const plaintext = decodeBase64('Plaintext', p.Plaintext);
    const e = keyEncryption(ctx, p);
    // A public-key operation in software: a dry run runs it too, for its plaintext checks, and drops the result.
    const ciphertext = encryptFor(e.located, e.alg, plaintext, 'Plaintext');
    if (dryRun) throw dryRunPassed();
    return Promise.resolve({
      KeyId: e.key.keyId,
      KeyVersionId: e.version.versionId,
      CiphertextBlob: ciphertext.toString('base64'),
    });
  },
});
