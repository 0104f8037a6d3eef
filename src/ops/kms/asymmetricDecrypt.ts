import { z } from 'zod';
import { decryptWith } from '../shared/encryption';
import { keyEncryption } from '../shared/keyEncryption';
import { dryRunPassed, isDryRun } from '../shared/dryRun';
import { decodeBase64 } from '../shared/messages';
import { defineOperation } from '../types';

/** KMS `AsymmetricDecrypt` (2016-01-20): decryption with a key version's private key, in the token. */
export const asymmetricDecrypt = defineOperation({
  product: 'kms',
  action: 'AsymmetricDecrypt',
  ramAction: 'kms:AsymmetricDecrypt',
  params: z.object({
    KeyId: z.string().min(1),
    KeyVersionId: z.string().min(1),
    Algorithm: z.string().min(1),
    CiphertextBlob: z.string().min(1),
    DryRun: z.string().optional(),
  }),
  async handle(ctx, p) {
    const dryRun = isDryRun(p.DryRun);
    const ciphertext = decodeBase64('CiphertextBlob', p.CiphertextBlob);
    const e = keyEncryption(ctx, p);
    // Whether the ciphertext decrypts is only known by decrypting it: a dry run checks everything before that.
    if (dryRun) throw dryRunPassed();
    const plaintext = await decryptWith(e.located, e.alg, ciphertext, ctx.log, ctx.requestId, 'keyPair');
    return { KeyId: e.key.keyId, KeyVersionId: e.version.versionId, Plaintext: plaintext.toString('base64') };
  },
});
