import { z } from 'zod';
import { aliasArn } from '../../identities/keys/resolve';
import { locateKey, page, pagingParams } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `ListAliasesByKeyId` (2016-01-20): the aliases of one key, by name, paged. */
export const listAliasesByKeyId = defineOperation({
  product: 'kms',
  action: 'ListAliasesByKeyId',
  ramAction: 'kms:ListAliasesByKeyId',
  params: z.object({ KeyId: z.string().min(1), ...pagingParams }),
  handle(ctx, p) {
    const key = locateKey(ctx, p.KeyId);
    const aliases = [...key.record.aliases]
      .sort()
      .map((a) => ({ KeyId: key.keyId, AliasName: a, AliasArn: aliasArn(ctx.config.server, a) }));
    const { items, fields } = page(aliases, p);
    return Promise.resolve({ Aliases: { Alias: items }, ...fields });
  },
});
