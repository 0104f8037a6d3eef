import { z } from 'zod';
import { keyMetadata } from '../../identities/keys/facts';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `DescribeKey` (2016-01-20): the key's metadata; `KeyId` may be an id, an alias or an ARN. */
export const describeKey = defineOperation({
  product: 'kms',
  action: 'DescribeKey',
  ramAction: 'kms:DescribeKey',
  params: z.object({ KeyId: z.string().min(1) }),
  handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    return Promise.resolve({ KeyMetadata: keyMetadata(key, ctx.config.server.accountId) });
  },
});
