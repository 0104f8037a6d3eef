import { z } from 'zod';
import { deleteAlias as remove, keyOfAlias } from '../../identities/keys/aliases';
import { keyResource } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `DeleteAlias` (2016-01-20). The access key must be allowed to use the key the alias names. */
export const deleteAlias = defineOperation({
  product: 'kms',
  action: 'DeleteAlias',
  ramAction: 'kms:DeleteAlias',
  params: z.object({ AliasName: z.string().min(1) }),
  async handle(ctx, p) {
    const key = keyOfAlias(ctx.tokens, p.AliasName);
    if (key) ctx.assertCanUse(keyResource(key.keyId));
    await remove(ctx.tokens, p.AliasName);
    return {};
  },
});
