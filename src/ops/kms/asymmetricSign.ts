import { z } from 'zod';
import { assertKeyEnabled, assertKeyUsage, keyPairOf, signingAlgorithm, versionOf } from '../../identities/keys/usage';
import { ApiError, invalidParameter } from '../../errors/apiError';
import { decodeBase64 } from '../shared/messages';
import { dryRunPassed, isDryRun } from '../shared/dryRun';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/**
 * KMS `AsymmetricSign` (2016-01-20): signs a DIGEST (no RAW mode, as the cloud) with a key version's private key
 * in the token. RSA PKCS#1 v1.5 / PSS (salt 32), ECDSA as DER, SM2 over `e` (src/crypto/algorithms.ts). A dry run
 * stops before the token signs.
 */
export const asymmetricSign = defineOperation({
  product: 'kms',
  action: 'AsymmetricSign',
  ramAction: 'kms:AsymmetricSign',
  params: z.object({
    KeyId: z.string().min(1),
    KeyVersionId: z.string().min(1),
    Algorithm: z.string().min(1),
    Digest: z.string().min(1),
    DryRun: z.string().optional(),
  }),
  async handle(ctx, p) {
    const dryRun = isDryRun(p.DryRun);
    const key = locateKey(ctx, p.KeyId);
    assertKeyEnabled(key);
    assertKeyUsage(key, 'SIGN/VERIFY');
    const alg = signingAlgorithm(key, p.Algorithm);
    const digest = decodeBase64('Digest', p.Digest);
    if (digest.length !== alg.digestLength) {
      throw invalidParameter('Digest', `expected the ${alg.digestLength}-byte digest; got ${digest.length} bytes.`);
    }
    const version = versionOf(key, p.KeyVersionId);
    const keyPair = keyPairOf(version);
    if (!keyPair.canSign || !key.token.supports(keyPair, alg)) {
      throw new ApiError('UnsupportedOperation', `${p.Algorithm} is not supported by the token holding this key.`);
    }
    if (dryRun) throw dryRunPassed();
    const signature = await key.token.sign(version.label, alg, { kind: 'digest', digest }, 'keyPair');
    return { KeyId: key.keyId, KeyVersionId: version.versionId, Value: signature.toString('base64') };
  },
});
