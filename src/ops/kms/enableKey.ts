import { z } from 'zod';
import { setKeyEnabled } from '../../identities/keys/lifecycle';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `EnableKey` (2016-01-20): a Disabled key signs again; a key pending deletion must be cancelled first. */
export const enableKey = defineOperation({
  product: 'kms',
  action: 'EnableKey',
  ramAction: 'kms:EnableKey',
  params: z.object({ KeyId: z.string().min(1) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await setKeyEnabled(key, true);
    return {};
  },
});
