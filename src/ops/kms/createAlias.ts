import { z } from 'zod';
import { createAlias as create } from '../../identities/keys/aliases';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `CreateAlias` (2016-01-20): `alias/…` names a key in every `KeyId` parameter. */
export const createAlias = defineOperation({
  product: 'kms',
  action: 'CreateAlias',
  ramAction: 'kms:CreateAlias',
  params: z.object({ KeyId: z.string().min(1), AliasName: z.string().min(1) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await create(ctx.tokens, key, p.AliasName);
    return {};
  },
});
