import { randomUUID } from 'node:crypto';
import { keySpecRow } from '../../crypto/algorithms';
import { ApiError, invalidParameter } from '../../errors/apiError';
import { KMS_KEY_APPLICATION } from '../../token/metadata';
import { destroyDataObjects, destroyKeyPair, generateKeyPair, storeDataObject } from '../../token/objects';
import type { TokenManager } from '../../token/tokenManager';
import { keysOf, type KmsKey } from './keyView';
import { keyArn, type ArnScope } from './resolve';
import {
  KMS_KEY_SPECS,
  kmsDate,
  serializeKeyRecord,
  versionLabel,
  type KmsKeyRecord,
  type KmsKeySpec,
  type KmsKeyUsage,
} from './record';

/**
 * The KMS key lifecycle on the token (CreateKey, EnableKey/DisableKey, ScheduleKeyDeletion/CancelKeyDeletion,
 * UpdateKeyDescription, and the purge of keys whose deletion window ended). Every change re-reads the token,
 * writes one new record object (storeDataObject: new first, old destroyed after) and re-reads the index.
 */

/** What CreateKey asks for (already validated against the cloud's enums by the operation). */
export interface CreateKeyInput {
  readonly keySpec: string;
  readonly keyUsage: string | undefined;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly scope: ArnScope;
  /** Who asks (the access key id), recorded as `Creator`. */
  readonly creator: string;
  readonly now?: Date;
}

/** The default KeyUsage of an asymmetric spec: SIGN/VERIFY (every spec served here can sign). */
const DEFAULT_USAGE: KmsKeyUsage = 'SIGN/VERIFY';

/**
 * Checks a spec/usage pair: symmetric and unknown specs are `Rejected.UnsupportedOperation` (key material of a
 * symmetric key would have to be a secret-key object; not served); ENCRYPT/DECRYPT needs RSA or SM2 (KMS §5.3).
 */
export function checkSpecAndUsage(keySpec: string, keyUsage: string | undefined): [KmsKeySpec, KmsKeyUsage] {
  const spec = (KMS_KEY_SPECS as readonly string[]).includes(keySpec) ? (keySpec as KmsKeySpec) : undefined;
  if (!spec) {
    throw new ApiError(
      'UnsupportedOperation',
      `KeySpec ${keySpec} is not supported: p11bridge serves the asymmetric specs ${KMS_KEY_SPECS.join(', ')}.`,
    );
  }
  const usage = keyUsage ?? DEFAULT_USAGE;
  if (usage !== 'SIGN/VERIFY' && usage !== 'ENCRYPT/DECRYPT') {
    throw invalidParameter('KeyUsage', 'expected SIGN/VERIFY or ENCRYPT/DECRYPT.');
  }
  if (usage === 'ENCRYPT/DECRYPT' && (spec === 'EC_P256' || spec === 'EC_P256K')) {
    throw new ApiError('UnsupportedOperation', `A ${spec} key cannot be used for ENCRYPT/DECRYPT.`);
  }
  return [spec, usage];
}

/**
 * The first ready token among `candidates` (config order) that can generate key pairs of `spec`, or
 * Rejected.UnsupportedOperation.
 */
function tokenFor(candidates: readonly TokenManager[], spec: KmsKeySpec): TokenManager {
  const row = keySpecRow(spec);
  const token = row ? candidates.find((t) => t.isReady() && t.canGenerate(row)) : undefined;
  if (!token) {
    throw new ApiError('UnsupportedOperation', `No token behind this daemon can generate ${spec} key pairs.`);
  }
  return token;
}

/**
 * Generates a version's key pair INSIDE the token (sensitive, never extractable, usages limited to the key's
 * KeyUsage), labelled `<keyId>/<versionId>` with CKA_ID = the version id's 16 bytes.
 */
export async function generateVersion(
  token: TokenManager,
  keyId: string,
  spec: KmsKeySpec,
  usage: KmsKeyUsage,
): Promise<{ versionId: string; label: string }> {
  const row = keySpecRow(spec);
  if (!row) throw new ApiError('UnsupportedOperation', `KeySpec ${spec} is not supported.`);
  const versionId = randomUUID();
  const label = versionLabel(keyId, versionId);
  const ckaId = Buffer.from(versionId.replace(/-/g, ''), 'hex');
  await generateKeyPair(token, row, label, ckaId, usage === 'SIGN/VERIFY' ? 'sign' : 'decrypt');
  return { versionId, label };
}

/** Writes a key's record (one object per KeyId) and re-reads the index. */
export async function writeRecord(token: TokenManager, record: KmsKeyRecord): Promise<void> {
  await storeDataObject(token, KMS_KEY_APPLICATION, record.keyId, serializeKeyRecord(record));
  // Full, here and in sibling processes: a key's versions are key pairs labelled `<keyId>/<versionId>`.
  await token.identityChanged(record.keyId, { full: true });
}

/** KMS CreateKey: a key pair in the first capable token among `candidates` as version 1 (primary), and the record. */
export async function createKey(candidates: readonly TokenManager[], input: CreateKeyInput): Promise<KmsKey> {
  const [spec, usage] = checkSpecAndUsage(input.keySpec, input.keyUsage);
  const token = tokenFor(candidates, spec);
  const keyId = randomUUID();
  const now = kmsDate(input.now ?? new Date());
  const { versionId, label } = await generateVersion(token, keyId, spec, usage);
  try {
    await writeRecord(token, {
      keyId,
      keySpec: spec,
      keyUsage: usage,
      state: 'Enabled',
      description: input.description,
      creationDate: now,
      creator: input.creator,
      arn: keyArn(input.scope, keyId),
      primaryKeyVersion: versionId,
      versions: [{ versionId, creationDate: now }],
      aliases: [],
      tags: { ...input.tags },
    });
  } catch (e) {
    await destroyKeyPair(token, label).catch(() => undefined);
    throw e;
  }
  const created = keysOf(token).keys.find((k) => k.keyId === keyId);
  if (!created) throw new Error(`key ${keyId} was written but is not in the index`);
  return created;
}

/**
 * Applies `change` to the freshest record of `key` (re-read from the token first, so that two daemons' changes do
 * not overwrite each other from stale memory) and writes it.
 */
export async function updateRecord(key: KmsKey, change: (r: KmsKeyRecord) => KmsKeyRecord): Promise<KmsKeyRecord> {
  // The record is the object labelled with the KeyId: re-read just that one.
  await key.token.refreshIdentity(key.keyId);
  const fresh = keysOf(key.token).keys.find((k) => k.keyId === key.keyId);
  if (!fresh) throw new ApiError('Forbidden.KeyNotFound');
  const next = change(fresh.record);
  await writeRecord(key.token, next);
  return next;
}

/** KMS EnableKey / DisableKey. A key pending deletion must be cancelled first (Rejected.PendingDeletion). */
export async function setKeyEnabled(key: KmsKey, enabled: boolean): Promise<void> {
  if (key.record.state === 'PendingDeletion') throw new ApiError('Rejected.PendingDeletion');
  const state = enabled ? 'Enabled' : 'Disabled';
  if (key.record.state === state) return;
  await updateRecord(key, (r) => {
    if (r.state === 'PendingDeletion') throw new ApiError('Rejected.PendingDeletion');
    return { ...r, state };
  });
}

/** The deletion window the cloud allows (ScheduleKeyDeletion `PendingWindowInDays`). */
const PENDING_WINDOW_DAYS = { min: 7, max: 366 } as const;

/** KMS ScheduleKeyDeletion: PendingDeletion until `now + days`; the key refuses every use meanwhile. */
export async function scheduleKeyDeletion(key: KmsKey, days: number, now: Date = new Date()): Promise<string> {
  if (!Number.isInteger(days) || days < PENDING_WINDOW_DAYS.min || days > PENDING_WINDOW_DAYS.max) {
    throw invalidParameter(
      'PendingWindowInDays',
      `an integer from ${PENDING_WINDOW_DAYS.min} to ${PENDING_WINDOW_DAYS.max}.`,
    );
  }
  if (key.record.state === 'PendingDeletion') throw new ApiError('Rejected.PendingDeletion');
  const deleteDate = kmsDate(new Date(now.getTime() + days * 86_400_000));
  await updateRecord(key, (r) => ({ ...r, state: 'PendingDeletion', deleteDate }));
  return deleteDate;
}

/** KMS CancelKeyDeletion: back to Enabled (Alibaba's documented outcome), deletion date cleared. */
export async function cancelKeyDeletion(key: KmsKey): Promise<void> {
  if (key.record.state !== 'PendingDeletion') {
    throw new ApiError('UnsupportedOperation', 'The key is not pending deletion.');
  }
  await updateRecord(key, (r) => {
    const rest: KmsKeyRecord = { ...r, state: 'Enabled' };
    delete rest.deleteDate;
    return rest;
  });
}

/** KMS UpdateKeyDescription. */
export async function updateKeyDescription(key: KmsKey, description: string): Promise<void> {
  await updateRecord(key, (r) => ({ ...r, description }));
}

/**
 * Destroys the objects of every key of `token` whose deletion window has ended: each version's key pair (private
 * key first), then the record last (a half-purged key stays PendingDeletion and past its date: gone for callers,
 * and the next sweep finishes it). Returns the KeyIds purged; `onPurged` hears of each key as it is destroyed, or
 * fails to be (the audit log records both).
 */
export async function purgeExpiredKeys(
  token: TokenManager,
  now: Date = new Date(),
  onPurged?: (key: { keyId: string; versions: string[]; error?: Error }) => void,
): Promise<string[]> {
  if (!token.isReady()) return [];
  await token.refreshIndex();
  const expired = keysOf(token).keys.filter(
    (k) =>
      k.record.state === 'PendingDeletion' &&
      k.record.deleteDate !== undefined &&
      Date.parse(k.record.deleteDate) <= now.getTime(),
  );
  for (const k of expired) {
    const versions = k.versions.map((v) => v.versionId);
    try {
      for (const v of k.versions) await destroyKeyPair(token, v.label);
      await destroyDataObjects(token, KMS_KEY_APPLICATION, k.keyId);
    } catch (e) {
      onPurged?.({ keyId: k.keyId, versions, error: e instanceof Error ? e : new Error(String(e)) });
      throw e;
    }
    onPurged?.({ keyId: k.keyId, versions });
  }
  if (expired.length > 0) await token.refreshIndex();
  return expired.map((k) => k.keyId);
}
