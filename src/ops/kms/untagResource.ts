import { z } from 'zod';
import { invalidParameter } from '../../errors/apiError';
import { changeCertificateTags, changeKeyTags } from '../../identities/tags';
import { tagTarget, tagTargetParams } from '../shared/tagTarget';
import { defineOperation } from '../types';

/** `TagKeys`: a JSON array of 1–20 tag keys. */
function parseTagKeys(value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const r = z.array(z.string().min(1)).min(1).max(20).safeParse(parsed);
  if (!r.success) throw invalidParameter('TagKeys', 'expected a JSON array of 1 to 20 tag keys.');
  return r.data;
}

/**
 * KMS `UntagResource` (2016-01-20): removes tags by key (`TagKeys`, a JSON array) from a key or a certificate. A key
 * that is not set is ignored, as the cloud does.
 */
export const untagResource = defineOperation({
  product: 'kms',
  action: 'UntagResource',
  ramAction: 'kms:UntagResource',
  params: z.object({ ...tagTargetParams, TagKeys: z.string().min(1) }),
  async handle(ctx, p) {
    const target = tagTarget(ctx, p);
    const remove = parseTagKeys(p.TagKeys);
    if (target.kind === 'key') await changeKeyTags(target.key, {}, remove);
    else await changeCertificateTags(target.located.token, target.located.entry.id, {}, remove);
    return {};
  },
});
