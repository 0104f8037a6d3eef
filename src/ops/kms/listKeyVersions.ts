import { z } from 'zod';
import { keyVersionFacts } from '../../identities/keys/facts';
import { locateKey, page, pagingParams } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `ListKeyVersions` (2016-01-20): a key's versions, oldest first, paged. */
export const listKeyVersions = defineOperation({
  product: 'kms',
  action: 'ListKeyVersions',
  ramAction: 'kms:ListKeyVersions',
  params: z.object({ KeyId: z.string().min(1), ...pagingParams }),
  handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    const { items, fields } = page(key.record.versions, p);
    return Promise.resolve({
      KeyVersions: { KeyVersion: items.map((v) => keyVersionFacts(key.keyId, v)) },
      ...fields,
    });
  },
});
