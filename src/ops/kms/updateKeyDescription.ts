import { z } from 'zod';
import { updateKeyDescription as update } from '../../identities/keys/lifecycle';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `UpdateKeyDescription` (2016-01-20). */
export const updateKeyDescription = defineOperation({
  product: 'kms',
  action: 'UpdateKeyDescription',
  ramAction: 'kms:UpdateKeyDescription',
  params: z.object({ KeyId: z.string().min(1), Description: z.string().max(8192) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await update(key, p.Description);
    return {};
  },
});
