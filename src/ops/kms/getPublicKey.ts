import { z } from 'zod';
import { assertKeyEnabled, keyPairOf, versionOf } from '../../identities/keys/usage';
import { dryRunPassed, isDryRun } from '../shared/dryRun';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `GetPublicKey` (2016-01-20): the version's public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo). */
export const getPublicKey = defineOperation({
  product: 'kms',
  action: 'GetPublicKey',
  ramAction: 'kms:GetPublicKey',
  params: z.object({ KeyId: z.string().min(1), KeyVersionId: z.string().min(1), DryRun: z.string().optional() }),
  handle(ctx, p) {
    const dryRun = isDryRun(p.DryRun);
    const key = locateKey(ctx, p.KeyId);
    assertKeyEnabled(key);
    const version = versionOf(key, p.KeyVersionId);
    const keyPair = keyPairOf(version);
    if (dryRun) throw dryRunPassed();
    const pem = keyPair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    return Promise.resolve({ KeyId: key.keyId, KeyVersionId: version.versionId, PublicKey: pem });
  },
});
