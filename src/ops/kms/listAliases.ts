import { z } from 'zod';
import { aliasArn, allKeys } from '../../identities/keys/resolve';
import { keyResource, page, pagingParams } from '../shared/keys';
import { defineOperation } from '../types';

/** KMS `ListAliases` (2016-01-20): every alias of the keys this access key may use, by name, paged. */
export const listAliases = defineOperation({
  product: 'kms',
  action: 'ListAliases',
  ramAction: 'kms:ListAliases',
  params: z.object({ ...pagingParams }),
  handle(ctx, p) {
    const aliases = allKeys(ctx.tokens)
      .keys.filter((k) => ctx.canUse(keyResource(k.keyId)))
      .flatMap((k) =>
        k.record.aliases.map((a) => ({ KeyId: k.keyId, AliasName: a, AliasArn: aliasArn(ctx.config.server, a) })),
      )
      .sort((a, b) => a.AliasName.localeCompare(b.AliasName));
    const { items, fields } = page(aliases, p);
    return Promise.resolve({ Aliases: { Alias: items }, ...fields });
  },
});
