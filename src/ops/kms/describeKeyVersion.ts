import { z } from 'zod';
import { keyVersionFacts } from '../../identities/keys/facts';
import { versionOf } from '../../identities/keys/usage';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `DescribeKeyVersion` (2016-01-20). */
export const describeKeyVersion = defineOperation({
  product: 'kms',
  action: 'DescribeKeyVersion',
  ramAction: 'kms:DescribeKeyVersion',
  params: z.object({ KeyId: z.string().min(1), KeyVersionId: z.string().min(1) }),
  handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    return Promise.resolve({ KeyVersion: keyVersionFacts(key.keyId, versionOf(key, p.KeyVersionId)) });
  },
});
