import { ApiError } from '../../errors/apiError';
import { destroyKeyPair } from '../../token/objects';
import type { KmsKey } from './keyView';
import { generateVersion, updateRecord } from './lifecycle';
import { kmsDate, type KmsKeyVersionRecord } from './record';

/** Most versions a key may have (a bound on token objects; the cloud documents none for manual rotation). */
const MAX_KEY_VERSIONS = 100;

/**
 * KMS CreateKeyVersion: a new key pair in the token becomes the primary version; older versions keep their key
 * pairs and still sign and verify when a request names them. Only an Enabled key rotates
 * (`409 Rejected.Disabled` / `Rejected.PendingDeletion` otherwise, as the cloud's metadata lists).
 */
export async function createKeyVersion(key: KmsKey, now: Date = new Date()): Promise<KmsKeyVersionRecord> {
  if (key.record.state === 'Disabled') {
    throw new ApiError('Rejected.Disabled', 'The request was rejected because the key state is Disabled.');
  }
  if (key.record.state === 'PendingDeletion') throw new ApiError('Rejected.PendingDeletion');
  if (key.record.versions.length >= MAX_KEY_VERSIONS) {
    throw new ApiError('UnsupportedOperation', `A key has at most ${MAX_KEY_VERSIONS} versions here.`);
  }
  const { versionId, label } = await generateVersion(key.token, key.keyId, key.record.keySpec, key.record.keyUsage);
  const version = { versionId, creationDate: kmsDate(now) };
  try {
    await updateRecord(key, (r) => ({
      ...r,
      versions: [...r.versions, version],
      primaryKeyVersion: versionId,
      lastRotationDate: version.creationDate,
    }));
  } catch (e) {
    await destroyKeyPair(key.token, label).catch(() => undefined);
    throw e;
  }
  return version;
}
