import { z } from 'zod';
import { scheduleKeyDeletion as schedule } from '../../identities/keys/lifecycle';
import { locateKey } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `ScheduleKeyDeletion` (2016-01-20): PendingDeletion for 7–366 days, then the key's objects are destroyed. */
export const scheduleKeyDeletion = defineOperation({
  product: 'kms',
  action: 'ScheduleKeyDeletion',
  ramAction: 'kms:ScheduleKeyDeletion',
  params: z.object({ KeyId: z.string().min(1), PendingWindowInDays: z.string().regex(/^\d+$/) }),
  async handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    await schedule(key, Number(p.PendingWindowInDays));
    return {};
  },
});
