import type { KmsKey } from './keyView';
import type { KmsKeyVersionRecord } from './record';

/**
 * `KeyMetadata` as DescribeKey and CreateKey return it (alibaba-kms-keys.md §5.2). Fields p11bridge has no
 * counterpart for get the value the cloud reports for a key without the feature: no automatic rotation, no KMS
 * instance, Origin `Aliyun_KMS` (generated here), ProtectionLevel `HSM` (the key pair lives in an HSM). `Creator`
 * is the access key id that created the key, or the account id for a record without one.
 */
export function keyMetadata(key: KmsKey, accountId: string): Record<string, unknown> {
  const r = key.record;
  return {
    KeyId: r.keyId,
    Arn: r.arn,
    KeySpec: r.keySpec,
    KeyUsage: r.keyUsage,
    KeyState: r.state,
    Origin: 'Aliyun_KMS',
    ProtectionLevel: 'HSM',
    PrimaryKeyVersion: r.primaryKeyVersion,
    CreationDate: r.creationDate,
    Creator: r.creator ?? accountId,
    Description: r.description,
    AutomaticRotation: 'Disabled',
    RotationInterval: '',
    LastRotationDate: r.lastRotationDate ?? r.creationDate,
    NextRotationDate: '',
    DeleteDate: r.deleteDate ?? '',
    MaterialExpireTime: '',
    DeletionProtection: 'Disabled',
    DeletionProtectionDescription: '',
    DKMSInstanceId: '',
  };
}

/** `KeyVersion` as CreateKeyVersion, DescribeKeyVersion and ListKeyVersions return it. */
export function keyVersionFacts(keyId: string, v: Pick<KmsKeyVersionRecord, 'versionId' | 'creationDate'>) {
  return { KeyId: keyId, KeyVersionId: v.versionId, CreationDate: v.creationDate };
}
