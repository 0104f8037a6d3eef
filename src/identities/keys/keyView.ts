import type { KeyEntry } from '../../token/keyIndex';
import type { TokenManager } from '../../token/tokenManager';
import { parseKeyRecord, versionLabel, type KmsKeyRecord } from './record';

/** One version of a KMS key as served: its record and the key pair in the token (absent: refused). */
export interface KmsKeyVersion {
  readonly versionId: string;
  readonly creationDate: string;
  readonly label: string;
  readonly keyPair: KeyEntry | undefined;
}

/** A KMS key as the operations see it: its record, its versions with their key pairs, and the token holding it. */
export interface KmsKey {
  readonly keyId: string;
  readonly record: KmsKeyRecord;
  readonly versions: readonly KmsKeyVersion[];
  readonly token: TokenManager;
  /**
   * Why the key refuses use although it is on the token (fail closed, like certificates: decision 0013): its
   * record is damaged or duplicated. Versions whose key pair is missing are refused one by one.
   */
  readonly problem: string | undefined;
}

/** Keys whose record could not be read at all: reported, never served. */
export interface DamagedKey {
  readonly keyId: string;
  readonly problem: string;
  readonly token: TokenManager;
}

/**
 * The KMS keys of one token, from its last index read (memory only: no token call). A label carried by more than
 * one record, or a record that does not parse or names another KeyId, yields a DamagedKey: never resolved by order.
 */
export function keysOf(token: TokenManager): { keys: KmsKey[]; damaged: DamagedKey[] } {
  const byLabel = new Map<string, Buffer[]>();
  for (const r of token.kmsKeyRecords()) {
    const list = byLabel.get(r.label);
    if (list) list.push(r.value);
    else byLabel.set(r.label, [r.value]);
  }
  const keys: KmsKey[] = [];
  const damaged: DamagedKey[] = [];
  for (const [label, values] of byLabel) {
    if (values.length > 1) {
      damaged.push({ keyId: label, token, problem: `${values.length} key records carry its label` });
      continue;
    }
    const record = parseKeyRecord(values[0] as Buffer);
    if (!record || record.keyId !== label) {
      damaged.push({ keyId: label, token, problem: 'its key record is damaged' });
      continue;
    }
    const versions = record.versions.map((v) => {
      const l = versionLabel(record.keyId, v.versionId);
      return { versionId: v.versionId, creationDate: v.creationDate, label: l, keyPair: token.keyPair(l) };
    });
    keys.push({ keyId: record.keyId, record, versions, token, problem: undefined });
  }
  return { keys, damaged };
}
