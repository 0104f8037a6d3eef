import { z } from 'zod';
import { setKeyEnabled } from '../../identities/keys/lifecycle';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `DisableKey` (2016-01-20): the key refuses every cryptographic use (`409 Rejected.Disabled`) until enabled. */
export const disableKey = defineOperation({
  product: 'kms',
  action: 'DisableKey',
  ramAction: 'kms:DisableKey',
  params: z.object({ KeyId: z.string().min(1) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await setKeyEnabled(key, false);
    return {};
  },
});
