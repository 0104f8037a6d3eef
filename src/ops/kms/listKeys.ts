import { z } from 'zod';
import type { KmsKey } from '../../identities/keys/keyView';
import { allKeys } from '../../identities/keys/resolve';
import { invalidParameter } from '../../errors/apiError';
import { keyResource, page, pagingParams } from '../shared/keys';
import { defineOperation } from '../types';

const FILTER_SHAPE =
  'expected a JSON array of {"Key":"KeyState|KeySpec|KeyUsage|ProtectionLevel|CreatorType","Values":["…"]}.';

/** What each filter key reads from a key (ProtectionLevel is always HSM, CreatorType always User here). */
const FILTER_FIELDS: Readonly<Record<string, (k: KmsKey) => string>> = {
  KeyState: (k) => k.record.state,
  KeySpec: (k) => k.record.keySpec,
  KeyUsage: (k) => k.record.keyUsage,
  ProtectionLevel: () => 'HSM',
  CreatorType: () => 'User',
};

function parseFilters(value: string | undefined): Array<(k: KmsKey) => boolean> {
  if (value === undefined || value.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidParameter('Filters', FILTER_SHAPE);
  }
  const r = z.array(z.object({ Key: z.string(), Values: z.array(z.string()).min(1) })).safeParse(parsed);
  if (!r.success) throw invalidParameter('Filters', FILTER_SHAPE);
  return r.data.map((f) => {
    const field = FILTER_FIELDS[f.Key];
    if (!field) throw invalidParameter('Filters', `unknown filter key ${f.Key}; ${FILTER_SHAPE}`);
    return (k: KmsKey) => f.Values.includes(field(k));
  });
}

/** KMS `ListKeys` (2016-01-20): the keys this access key may use, paged, with `Filters` (all must match). */
export const listKeys = defineOperation({
  product: 'kms',
  action: 'ListKeys',
  ramAction: 'kms:ListKeys',
  params: z.object({ ...pagingParams, Filters: z.string().optional() }),
  handle(ctx, p) {
    const filters = parseFilters(p.Filters);
    const keys = allKeys(ctx.tokens)
      .keys.filter((k) => ctx.canUse(keyResource(k.keyId)))
      .filter((k) => filters.every((f) => f(k)))
      .sort((a, b) => a.record.creationDate.localeCompare(b.record.creationDate) || a.keyId.localeCompare(b.keyId));
    const { items, fields } = page(keys, p);
    return Promise.resolve({
      Keys: { Key: items.map((k) => ({ KeyId: k.keyId, KeyArn: k.record.arn })) },
      ...fields,
    });
  },
});
