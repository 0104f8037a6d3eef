import type { KeySpec } from '../../crypto/algorithms';
import type { CertificateMetadata, CertificateStatus } from '../../token/metadata';

/**
 * The lifecycle record of a certificate: what its metadata data object on the token says (the object's format is
 * src/token/metadata.ts, read by the key index, which refuses an identity whose record is missing or damaged) and how
 * each step of the lifecycle changes it. Pure: the writes are the lifecycle's (issuance.ts, upload.ts, lifecycle.ts).
 */

/** Where an ARN points: `acs:kms:<regionId>:<accountId>:certificate/<id>`. */
export interface ArnScope {
  readonly regionId: string;
  readonly accountId: string;
}

/** The KMS `Arn` of a certificate identifier. */
export function certificateArn(scope: ArnScope, id: string): string {
  return `acs:kms:${scope.regionId}:${scope.accountId}:certificate/${id}`;
}

/** `YYYY-MM-DDThh:mm:ssZ`, the KMS date format (DescribeCertificate). */
export function kmsDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What a new certificate's record starts as. */
export interface PendingRecordInput {
  readonly keySpec: KeySpec;
  readonly csrPem: string;
  readonly subjectAlternativeNames: readonly string[];
  readonly tags: Readonly<Record<string, string>> | undefined;
  /** Fixed at creation so that every daemon reports the same ARN whatever its region setting. */
  readonly arn: string;
  readonly now: Date;
}

/** The record of a certificate just requested (CreateCertificate): PENDING until its certificate is uploaded. */
export function pendingRecord(input: PendingRecordInput): CertificateMetadata {
  const now = kmsDate(input.now);
  return {
    status: 'PENDING',
    keySpec: input.keySpec,
    // CreateCertificate's key pair signs and decrypts; the grant is enforced where the token allows more (0027).
    usage: 'sign+decrypt',
    createdAt: now,
    updatedAt: now,
    csr: input.csrPem,
    subjectAlternativeNames: [...input.subjectAlternativeNames],
    tags: { ...input.tags },
    arn: input.arn,
  };
}

/**
 * The status after a certificate is uploaded: a PENDING certificate becomes ACTIVE; any other status is kept
 * (re-uploading never re-enables a disabled or revoked certificate).
 */
export function statusAfterUpload(current: CertificateStatus): CertificateStatus {
  return current === 'PENDING' ? 'ACTIVE' : current;
}

/** The record with a new status, stamped with the time of the change. */
export function withStatus(record: CertificateMetadata, status: CertificateStatus, now: Date): CertificateMetadata {
  return { ...record, status, updatedAt: kmsDate(now) };
}
