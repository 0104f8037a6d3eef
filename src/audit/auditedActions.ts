/**
 * Which requests the audit log records, and how (issue 18): private-key operations and lifecycle changes by
 * product and action, and the refusals that are not the caller's bad input. This table is the only place that
 * names them; docs/operations.md lists the same.
 */

/** Where a private-key operation's input and output are, and how they are encoded. */
export interface PrivateKeyAction {
  readonly type: 'sign' | 'decrypt';
  /** The parameter with the data signed or decrypted. */
  readonly data: 'Message' | 'Digest' | 'CiphertextBlob';
  /** The response field with the signature or plaintext. */
  readonly result: 'Signature' | 'SignatureValue' | 'Value' | 'Plaintext';
  /** MessageType when the operation has none (AsymmetricSign signs digests only). */
  readonly messageType?: string;
}

export const PRIVATE_KEY_ACTIONS: Readonly<Record<string, PrivateKeyAction>> = {
  'cas:Sign': { type: 'sign', data: 'Message', result: 'Signature' },
  'cas:Decrypt': { type: 'decrypt', data: 'CiphertextBlob', result: 'Plaintext' },
  'kms:CertificatePrivateKeySign': { type: 'sign', data: 'Message', result: 'SignatureValue' },
  'kms:CertificatePrivateKeyDecrypt': { type: 'decrypt', data: 'CiphertextBlob', result: 'Plaintext' },
  'kms:AsymmetricSign': { type: 'sign', data: 'Digest', result: 'Value', messageType: 'DIGEST' },
  'kms:AsymmetricDecrypt': { type: 'decrypt', data: 'CiphertextBlob', result: 'Plaintext' },
};

/** Actions that change a certificate's or a KMS key's lifecycle, state or addressing. */
export const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set([
  'kms:CreateCertificate',
  'kms:UploadCertificate',
  'kms:UpdateCertificateStatus',
  'kms:DeleteCertificate',
  'kms:CreateKey',
  'kms:CreateKeyVersion',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:UpdateKeyDescription',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
]);

/**
 * Refusals that say something about the caller rather than its input: authentication (a wrong secret, an unknown
 * or disabled key, a replayed nonce, a stale timestamp), permission, throttling, and a certificate or key state
 * that forbids the operation. Generic and KMS names both (src/api/productErrors.ts).
 */
export const AUDITED_REFUSALS: ReadonlySet<string> = new Set([
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive',
  'SignatureNonceUsed',
  'InvalidTimeStamp.Expired',
  'Forbidden.RAM',
  'Throttling.User',
  'Rejected.Throttling',
  'Rejected.Disabled',
  'Rejected.Revoked',
  'Rejected.Pending',
  'Rejected.PendingDeletion',
]);

/** Lifecycle parameters worth recording (never descriptions or tags' values: free text a caller chose). */
export const LIFECYCLE_DETAILS = [
  'Status',
  'KeySpec',
  'KeyUsage',
  'AliasName',
  'TargetKeyId',
  'PendingWindowInDays',
  'WarehouseId',
] as const;
