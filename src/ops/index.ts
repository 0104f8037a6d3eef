import { casDecrypt } from './cas/decrypt';
import { describeWarehouseCert } from './cas/describeWarehouseCert';
import { casEncrypt } from './cas/encrypt';
import { getCertWarehouseQuota } from './cas/getCertWarehouseQuota';
import { listCert } from './cas/listCert';
import { listCertWarehouse } from './cas/listCertWarehouse';
import { casSign } from './cas/sign';
import { casVerify } from './cas/verify';
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
