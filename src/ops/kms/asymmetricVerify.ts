import { z } from 'zod';
import { assertKeyEnabled, assertKeyUsage, keyPairOf, signingAlgorithm, versionOf } from '../../identities/keys/usage';
import { invalidParameter } from '../../errors/apiError';
import { decodeBase64 } from '../shared/messages';
import { dryRunPassed, isDryRun } from '../shared/dryRun';
import { locateKey } from '../shared/keys';
import { verifySignature } from '../shared/verifying';
import { defineOperation } from '../types';

/**
 * KMS `AsymmetricVerify` (2016-01-20): verifies a signature over a DIGEST with a key version's public key, in
 * software (a public-key operation). `Value` is a boolean; a signature that does not parse is simply false.
 */
export const asymmetricVerify = defineOperation({
  product: 'kms',
  action: 'AsymmetricVerify',
  ramAction: 'kms:AsymmetricVerify',
  params: z.object({
    KeyId: z.string().min(1),
    KeyVersionId: z.string().min(1),
    Algorithm: z.string().min(1),
    Digest: z.string().min(1),
    Value: z.string().min(1),
    DryRun: z.string().optional(),
  }),
  handle(ctx, p) {
    const dryRun = isDryRun(p.DryRun);
    const key = locateKey(ctx, p.KeyId);
    assertKeyEnabled(key);
    assertKeyUsage(key, 'SIGN/VERIFY');
    const alg = signingAlgorithm(key, p.Algorithm);
    const digest = decodeBase64('Digest', p.Digest);
    if (digest.length !== alg.digestLength) {
      throw invalidParameter('Digest', `expected the ${alg.digestLength}-byte digest; got ${digest.length} bytes.`);
    }
    const signature = decodeBase64('Value', p.Value);
    const version = versionOf(key, p.KeyVersionId);
    const keyPair = keyPairOf(version);
    if (dryRun) throw dryRunPassed();
    const valid = verifySignature(keyPair.publicKey, alg, { kind: 'digest', digest }, signature, key.token.sm2UserId);
    return Promise.resolve({ KeyId: key.keyId, KeyVersionId: version.versionId, Value: valid });
  },
});
