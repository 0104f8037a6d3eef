import { z } from 'zod';
import { keyVersionFacts } from '../../identities/keys/facts';
import { createKeyVersion as rotate } from '../../identities/keys/versions';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `CreateKeyVersion` (2016-01-20): a new key pair in the token becomes the primary version. */
export const createKeyVersion = defineOperation({
  product: 'kms',
  action: 'CreateKeyVersion',
  ramAction: 'kms:CreateKeyVersion',
  params: z.object({ KeyId: z.string().min(1) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    const version = await rotate(key);
    return { KeyVersion: keyVersionFacts(key.keyId, version) };
  },
});
