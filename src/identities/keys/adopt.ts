import { randomUUID } from 'node:crypto';
import { ApiError } from '../../errors/apiError';
import { findPrivateKeys, relabelKeyPair, type KeyPairRef } from '../../token/keyPairs';
import { isKeyPairLabel, type KeyEntry } from '../../token/keyIndex';
import type { TokenManager } from '../../token/tokenManager';
import { keysOf, type KmsKey } from './keyView';
import { writeRecord } from './lifecycle';
import { KMS_KEY_SPECS, kmsDate, versionLabel, type KmsKeySpec, type KmsKeyUsage } from './record';
import { keyArn, type ArnScope } from './resolve';

/** What `p11bridge keys adopt` asks for. */
export interface AdoptInput {
  readonly ref: KeyPairRef;
  readonly keyUsage: KmsKeyUsage;
  readonly description: string;
  readonly scope: ArnScope;
  /** Recorded as the key's `Creator` (the operator command, not an access key). */
  readonly creator: string;
  readonly now?: Date;
}

const refText = (ref: KeyPairRef): string =>
  'label' in ref ? `label "${ref.label}"` : `CKA_ID ${ref.ckaId.toString('hex')}`;

/**
 * The one key pair `ref` names, after the policy every served key passes: exactly one private key, sensitive and
 * never extractable, of a KMS key spec, allowed to sign (SIGN/VERIFY) or decrypt (ENCRYPT/DECRYPT), and no
 * certificate identity (a key pair with a certificate or lifecycle metadata belongs to `certs`).
 */
async function adoptable(token: TokenManager, ref: KeyPairRef, usage: KmsKeyUsage): Promise<KeyEntry> {
  const found = await findPrivateKeys(token, ref);
  if (found.length === 0) throw new Error(`no private key with ${refText(ref)} on token ${token.name}`);
  if (found.length > 1) throw new Error(`${found.length} private keys carry ${refText(ref)}: name one by its CKA_ID`);
  const key = found[0] as (typeof found)[number];
  if (!key.sensitive || key.extractable) {
    throw new Error(
      `the private key with ${refText(ref)} fails the key policy (CKA_SENSITIVE=${key.sensitive}, ` +
        `CKA_EXTRACTABLE=${key.extractable}): only sensitive, non-extractable keys are served`,
    );
  }
  if (isKeyPairLabel(key.label)) throw new Error(`the key pair "${key.label}" is already a KMS key version`);
  if (key.ckaId.length === 0) throw new Error('the private key has no CKA_ID: its public key cannot be matched');
  await token.refreshIndex();
  // A private key without a label is not addressable in the index (keyIndex.ts): it is not found here either.
  const entry = token.entries().find((e) => e.ckaId.equals(key.ckaId) && e.id === key.label);
  if (!entry) throw new Error(`the key pair with ${refText(ref)} is not readable as a key pair (see the daemon log)`);
  if (entry.certificate || entry.metadataHandle) {
    throw new Error(`"${entry.id}" is a certificate identity; manage it with p11bridge certs`);
  }
  if (entry.problem) throw new Error(`"${entry.id}" is refused: ${entry.problem}`);
  if (!entry.keySpec || !(KMS_KEY_SPECS as readonly string[]).includes(entry.keySpec)) {
    throw new Error(
      `its key type (${entry.keySpec ?? entry.keyType}) is not a KMS key spec (${KMS_KEY_SPECS.join(', ')})`,
    );
  }
  if (usage === 'SIGN/VERIFY' && !entry.canSign) throw new Error('the private key may not sign (CKA_SIGN is false)');
  if (usage === 'ENCRYPT/DECRYPT' && (!entry.canDecrypt || entry.keyType === 'EC')) {
    throw new Error('the private key may not decrypt (CKA_DECRYPT is false, or it is an ECDSA key)');
  }
  return entry;
}

/**
 * `p11bridge keys adopt`: exposes an existing key pair as a KMS key whose only version is that key pair, without
 * touching its key material (decision 0019). The key pair's CKA_LABEL becomes `<keyId>/<versionId>` (the index
 * finds KMS versions by label); its former label and CKA_ID are kept in the record. The relabel comes first: a
 * crash before the record is written leaves a KMS-labelled key pair no record claims (served by nothing; the
 * operator renames it back), never a record promising key material that is not there.
 */
export async function adoptKeyPair(token: TokenManager, input: AdoptInput): Promise<KmsKey> {
  const entry = await adoptable(token, input.ref, input.keyUsage);
  const keyId = randomUUID();
  const versionId = randomUUID();
  const now = kmsDate(input.now ?? new Date());
  const handles = { privateKey: entry.privateKey, publicKey: entry.publicKeyHandle };
  await relabelKeyPair(token, handles, versionLabel(keyId, versionId));
  try {
    await writeRecord(token, {
      keyId,
      keySpec: entry.keySpec as KmsKeySpec,
      keyUsage: input.keyUsage,
      state: 'Enabled',
      description: input.description,
      creationDate: now,
      creator: input.creator,
      arn: keyArn(input.scope, keyId),
      primaryKeyVersion: versionId,
      versions: [
        { versionId, creationDate: now, adoptedFrom: { label: entry.id, ckaId: entry.ckaId.toString('hex') } },
      ],
      aliases: [],
      tags: {},
    });
  } catch (e) {
    await relabelKeyPair(token, handles, entry.id).catch(() => undefined);
    throw e;
  }
  const adopted = keysOf(token).keys.find((k) => k.keyId === keyId);
  if (!adopted) throw new ApiError('Forbidden.KeyNotFound', `key ${keyId} was written but is not in the index`);
  return adopted;
}
