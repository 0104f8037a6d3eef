import { ApiError, invalidParameter } from '../errors/apiError';
import { storeMetadata } from '../token/objects';
import type { TokenManager } from '../token/tokenManager';
import type { KmsKey } from './keys/keyView';
import { updateRecord } from './keys/lifecycle';

/** Most tags one resource carries (the cloud's quota for KMS resources). */
export const MAX_TAGS_PER_RESOURCE = 20;

/**
 * Tag keys p11bridge writes for its own bookkeeping (`p11bridge:createdBy` counts an access key's certificates
 * against its quota): shown by the read operations, never set or removed by TagResource/UntagResource.
 */
const INTERNAL_PREFIX = 'p11bridge:';

/** Checks a tag key the way the cloud does (1–128 characters, not `aliyun`/`acs:`), and refuses internal ones. */
export function checkTagKey(key: string): void {
  if (key.length < 1 || key.length > 128) throw invalidParameter('TagKey', 'from 1 to 128 characters.');
  if (/^(aliyun|acs:)/i.test(key)) throw invalidParameter('TagKey', 'must not start with "aliyun" or "acs:".');
  if (key.startsWith(INTERNAL_PREFIX)) {
    throw invalidParameter('TagKey', `keys starting with "${INTERNAL_PREFIX}" are reserved by p11bridge.`);
  }
}

/**
 * `tags` with `add` set and `remove` removed. More than MAX_TAGS_PER_RESOURCE is `Rejected.UnsupportedOperation`, as
 * the alias quota (the cloud's `Rejected.LimitExceeded` is not in our catalogue; docs/api.md).
 */
export function changedTags(
  tags: Readonly<Record<string, string>>,
  add: Readonly<Record<string, string>>,
  remove: readonly string[],
): Record<string, string> {
  for (const k of [...Object.keys(add), ...remove]) checkTagKey(k);
  const next: Record<string, string> = { ...tags, ...add };
  for (const k of remove) delete next[k];
  if (Object.keys(next).length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError('UnsupportedOperation', `A resource carries at most ${MAX_TAGS_PER_RESOURCE} tags.`);
  }
  return next;
}

/** TagResource/UntagResource on a KMS key: the tags live in its record on the token. */
export async function changeKeyTags(
  key: KmsKey,
  add: Readonly<Record<string, string>>,
  remove: readonly string[],
): Promise<void> {
  changedTags(key.record.tags, add, remove);
  await updateRecord(key, (r) => ({ ...r, tags: changedTags(r.tags, add, remove) }));
}

/**
 * TagResource/UntagResource on a certificate: the tags live in its lifecycle metadata object on the token (the
 * same object DescribeCertificate reads `Tags` from). Re-read first, so that another daemon's change is not lost.
 */
export async function changeCertificateTags(
  token: TokenManager,
  id: string,
  add: Readonly<Record<string, string>>,
  remove: readonly string[],
): Promise<void> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  if (entry.problem !== undefined) {
    throw new ApiError(
      'Rejected.Disabled',
      'The certificate cannot be changed: its record on the token needs an operator.',
    );
  }
  const tags = changedTags(entry.metadata.tags ?? {}, add, remove);
  await storeMetadata(token, id, { ...entry.metadata, tags });
  await token.identityChanged(id);
}
