import { z } from 'zod';
import { updateAlias as update } from '../../identities/keys/aliases';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `UpdateAlias` (2016-01-20): points an existing alias at another key. */
export const updateAlias = defineOperation({
  product: 'kms',
  action: 'UpdateAlias',
  ramAction: 'kms:UpdateAlias',
  params: z.object({ KeyId: z.string().min(1), AliasName: z.string().min(1) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await update(ctx.tokens, key, p.AliasName);
    return {};
  },
});
