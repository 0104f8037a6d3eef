import { z } from 'zod';
import { tagTarget } from '../shared/tagTarget';
import { defineOperation } from '../types';

/**
 * KMS `ListResourceTags` (2016-01-20): `Tags.Tag[]` of `{KeyId, TagKey, TagValue}` for a key. p11bridge also accepts
 * `CertificateId` (entries then carry `CertificateId`), the read side of TagResource on certificates.
 */
export const listResourceTags = defineOperation({
  product: 'kms',
  action: 'ListResourceTags',
  ramAction: 'kms:ListResourceTags',
  params: z.object({ KeyId: z.string().min(1).optional(), CertificateId: z.string().min(1).optional() }),
  handle(ctx, p) {
    const target = tagTarget(ctx, p);
    const [owner, tags] =
      target.kind === 'key'
        ? [{ KeyId: target.key.keyId }, target.key.record.tags]
        : [{ CertificateId: target.located.entry.id }, target.located.entry.metadata.tags ?? {}];
    const Tag = Object.entries(tags).map(([TagKey, TagValue]) => ({ ...owner, TagKey, TagValue }));
    return Promise.resolve({ Tags: { Tag } });
  },
});
