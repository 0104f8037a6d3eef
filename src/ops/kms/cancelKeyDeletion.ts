import { z } from 'zod';
import { cancelKeyDeletion as cancel } from '../../identities/keys/lifecycle';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `CancelKeyDeletion` (2016-01-20): a key pending deletion becomes Enabled again. */
export const cancelKeyDeletion = defineOperation({
  product: 'kms',
  action: 'CancelKeyDeletion',
  ramAction: 'kms:CancelKeyDeletion',
  params: z.object({ KeyId: z.string().min(1) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await cancel(key);
    return {};
  },
});
