import { casDecrypt } from './cas/decrypt';
import { describeWarehouseCert } from './cas/describeWarehouseCert';
import { casEncrypt } from './cas/encrypt';
import { getCertWarehouseQuota } from './cas/getCertWarehouseQuota';
import { listCert } from './cas/listCert';
import { listCertWarehouse } from './cas/listCertWarehouse';
import { casSign } from './cas/sign';
import { casVerify } from './cas/verify';
import { asymmetricDecrypt } from './kms/asymmetricDecrypt';
import { asymmetricEncrypt } from './kms/asymmetricEncrypt';
import { asymmetricSign } from './kms/asymmetricSign';
import { asymmetricVerify } from './kms/asymmetricVerify';
import { getPublicKey } from './kms/getPublicKey';
import { createKey } from './kms/createKey';
import { describeKey } from './kms/describeKey';
import { listKeys } from './kms/listKeys';
import { listKeyVersions } from './kms/listKeyVersions';
import { describeKeyVersion } from './kms/describeKeyVersion';
import { createKeyVersion } from './kms/createKeyVersion';
import { enableKey } from './kms/enableKey';
import { disableKey } from './kms/disableKey';
import { scheduleKeyDeletion } from './kms/scheduleKeyDeletion';
import { cancelKeyDeletion } from './kms/cancelKeyDeletion';
import { updateKeyDescription } from './kms/updateKeyDescription';
import { createAlias } from './kms/createAlias';
import { updateAlias } from './kms/updateAlias';
import { deleteAlias } from './kms/deleteAlias';
import { listAliases } from './kms/listAliases';
import { listAliasesByKeyId } from './kms/listAliasesByKeyId';
import { listResourceTags } from './kms/listResourceTags';
import { tagResource } from './kms/tagResource';
import { untagResource } from './kms/untagResource';
import { certificatePrivateKeyDecrypt } from './kms/certificatePrivateKeyDecrypt';
import { certificatePrivateKeySign } from './kms/certificatePrivateKeySign';
import { certificatePublicKeyEncrypt } from './kms/certificatePublicKeyEncrypt';
import { certificatePublicKeyVerify } from './kms/certificatePublicKeyVerify';
import { createCertificate } from './kms/createCertificate';
import { deleteCertificate } from './kms/deleteCertificate';
import { describeCertificate } from './kms/describeCertificate';
import { getCertificate } from './kms/getCertificate';
import { updateCertificateStatus } from './kms/updateCertificateStatus';
import { uploadCertificate } from './kms/uploadCertificate';
import { OperationRegistry } from './registry';
import type { Operation } from './types';

/** Every operation the daemon serves. Adding an operation is adding a file and a line here. */
const OPERATIONS: readonly Operation[] = [
  // KMS 2016-01-20, certificate operations (protocol §9.3).
  certificatePrivateKeySign,
  certificatePublicKeyVerify,
  certificatePublicKeyEncrypt,
  certificatePrivateKeyDecrypt,
  createCertificate,
  uploadCertificate,
  getCertificate,
  describeCertificate,
  updateCertificateStatus,
  deleteCertificate,
  // KMS 2016-01-20, asymmetric keys (alibaba-kms-keys.md §5.2; src/identities/keys).
  asymmetricSign,
  asymmetricVerify,
  getPublicKey,
  createKey,
  describeKey,
  listKeys,
  listKeyVersions,
  describeKeyVersion,
  createKeyVersion,
  enableKey,
  disableKey,
  scheduleKeyDeletion,
  cancelKeyDeletion,
  updateKeyDescription,
  createAlias,
  updateAlias,
  deleteAlias,
  listAliases,
  listAliasesByKeyId,
  tagResource,
  untagResource,
  listResourceTags,
  asymmetricEncrypt,
  asymmetricDecrypt,
  // CAS 2020-04-07 (protocol §9.1).
  casSign,
  casVerify,
  casEncrypt,
  casDecrypt,
  listCert,
  listCertWarehouse,
  describeWarehouseCert,
  getCertWarehouseQuota,
] as readonly Operation[];

/** The registry of all served operations. */
export function createOperationRegistry(): OperationRegistry {
  return new OperationRegistry(OPERATIONS);
}
