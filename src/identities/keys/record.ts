import { z } from 'zod';

/**
 * The record of one KMS key, kept ON THE TOKEN as a private CKO_DATA object (CKA_APPLICATION
 * `p11bridge-kms-key`, CKA_LABEL = the KeyId, CKA_VALUE = this JSON; decision 0015), so that every daemon in front
 * of the same HSM sees the same keys, states, versions and aliases. The key material itself is one key pair per
 * version, labelled `<keyId>/<versionId>` (versionLabel).
 */

/** KMS `KeySpec` values served for keys (asymmetric only: symmetric specs need key material outside a key pair). */
export const KMS_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'EC_P256', 'EC_P256K', 'EC_SM2'] as const;
export type KmsKeySpec = (typeof KMS_KEY_SPECS)[number];

const KMS_KEY_USAGES = ['SIGN/VERIFY', 'ENCRYPT/DECRYPT'] as const;
export type KmsKeyUsage = (typeof KMS_KEY_USAGES)[number];

const KMS_KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion'] as const;

const versionSchema = z.object({
  versionId: z.string().min(1),
  /** `YYYY-MM-DDThh:mm:ssZ`. */
  creationDate: z.string(),
  /**
   * Set on a version adopted from an existing key pair (`p11bridge keys adopt`, decision 0019): the label and
   * CKA_ID (hex) it had before it was relabelled `<keyId>/<versionId>`.
   */
  adoptedFrom: z.object({ label: z.string(), ckaId: z.string() }).optional(),
});

const recordSchema = z.object({
  keyId: z.string().min(1),
  keySpec: z.enum(KMS_KEY_SPECS),
  keyUsage: z.enum(KMS_KEY_USAGES),
  state: z.enum(KMS_KEY_STATES),
  description: z.string().default(''),
  creationDate: z.string(),
  /** The access key id that created the key (DescribeKey `Creator`). */
  creator: z.string().optional(),
  /** Fixed at creation so that every daemon reports the same ARN whatever its region setting. */
  arn: z.string(),
  /** The version signing and encryption use when a request names none; always one of `versions`. */
  primaryKeyVersion: z.string(),
  versions: z.array(versionSchema).min(1),
  /** Set while PendingDeletion: when the key's objects are destroyed. */
  deleteDate: z.string().optional(),
  lastRotationDate: z.string().optional(),
  /** Full alias names (`alias/…`). */
  aliases: z.array(z.string()).default([]),
  tags: z.record(z.string(), z.string()).default({}),
});

export type KmsKeyVersionRecord = z.infer<typeof versionSchema>;
export type KmsKeyRecord = z.infer<typeof recordSchema>;

/** Parses a record's CKA_VALUE; undefined when damaged (the key is then refused: fail closed). */
export function parseKeyRecord(value: Buffer): KmsKeyRecord | undefined {
  try {
    const r = recordSchema.safeParse(JSON.parse(value.toString('utf8')));
    if (!r.success) return undefined;
    return r.data.versions.some((v) => v.versionId === r.data.primaryKeyVersion) ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Serialises a record for CKA_VALUE. */
export function serializeKeyRecord(record: KmsKeyRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

/** CKA_LABEL of a version's key pair: `<keyId>/<versionId>` (src/token/keyIndex.ts keeps such keys apart). */
export function versionLabel(keyId: string, versionId: string): string {
  return `${keyId}/${versionId}`;
}

/** `YYYY-MM-DDThh:mm:ssZ`, the KMS date format. */
export function kmsDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
