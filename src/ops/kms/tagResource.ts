import { z } from 'zod';
import { invalidParameter } from '../../errors/apiError';
import { changeCertificateTags, changeKeyTags } from '../../identities/tags';
import { parseTags } from '../shared/keys';
import { tagTarget, tagTargetParams } from '../shared/tagTarget';
import { defineOperation } from '../types';

/**
 * KMS `TagResource` (2016-01-20): sets tags (`Tags`, a JSON array of `{"TagKey","TagValue"}`) on a key (`KeyId`: id,
 * alias or ARN) or a certificate (`CertificateId`; DescribeCertificate `Tags` shows them). A tag key already set
 * takes the new value. Secrets are not served.
 */
export const tagResource = defineOperation({
  product: 'kms',
  action: 'TagResource',
  ramAction: 'kms:TagResource',
  params: z.object({ ...tagTargetParams, Tags: z.string().min(1) }),
  async handle(ctx, p) {
    const target = tagTarget(ctx, p);
    const add = parseTags(p.Tags);
    if (Object.keys(add).length === 0) throw invalidParameter('Tags', 'at least one tag.');
    if (target.kind === 'key') await changeKeyTags(target.key, add, []);
    else await changeCertificateTags(target.located.token, target.located.entry.id, add, []);
    return {};
  },
});
