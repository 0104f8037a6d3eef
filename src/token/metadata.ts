import { z } from 'zod';

/**
 * Lifecycle metadata of a certificate, kept ON THE TOKEN as a CKO_DATA object (CKA_APPLICATION
 * `p11bridge`, CKA_LABEL = the certificate identifier, CKA_VALUE = this JSON), so that every daemon in
 * front of the same HSM sees the same state without a separate database.
 */
export const METADATA_APPLICATION = 'p11bridge';

/**
 * CKA_APPLICATION of the data objects that record KMS keys (CKA_LABEL = the KeyId, CKA_VALUE = JSON whose schema
 * src/identities/keys/record.ts owns). An application of its own, so no certificate reader ever sees one.
 */
export const KMS_KEY_APPLICATION = 'p11bridge-kms-key';

const certificateStatus = z.enum(['PENDING', 'ACTIVE', 'INACTIVE', 'REVOKED']);
export type CertificateStatus = z.infer<typeof certificateStatus>;

const metadataSchema = z.object({
  status: certificateStatus.default('ACTIVE'),
  keySpec: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  csr: z.string().optional(),
  subjectAlternativeNames: z.array(z.string()).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  customIdentifier: z.string().optional(),
  /**
   * What the API lets the key do (what it was made for). Absent on identities made before it existed: the token's
   * CKA_SIGN / CKA_DECRYPT decide alone. Present, it is enforced even where the token allows more (a token whose key
   * templates cannot restrict usage, src/token/keyTemplates.ts).
   */
  usage: z.enum(['sign', 'sign+decrypt', 'decrypt']).optional(),
  /** KMS `Arn`, fixed at creation so that every daemon reports the same one whatever its region setting. */
  arn: z.string().optional(),
});

export type CertificateMetadata = z.infer<typeof metadataSchema>;

/**
 * Parses a data object's value; undefined when it is damaged (the index then refuses the identity: fail closed,
 * src/token/keyIndex.ts).
 */
export function parseMetadata(value: Buffer): CertificateMetadata | undefined {
  try {
    const r = metadataSchema.safeParse(JSON.parse(value.toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Serialises metadata for CKA_VALUE. */
export function serializeMetadata(m: CertificateMetadata): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}
