/**
 * What each operation answers: its response fields, PascalCase as the cloud's API reference names them
 * (docs/api.md). RequestId is not here: the renderer adds it to every answer. A field that is absent in some
 * answers is optional (the cloud leaves it out rather than sending null).
 */

/** An answer with no fields besides RequestId (DeleteCertificate, UpdateCertificateStatus, UploadCertificate). */
export type EmptyResult = Record<string, never>;

// KMS 2016-01-20 --------------------------------------------------------------------------------------------

/** `CertificatePrivateKeySign`: the signature, base64. */
export type CertificatePrivateKeySignResult = { CertificateId: string; SignatureValue: string };

/** `CertificatePrivateKeyDecrypt`: the plaintext, base64. */
export type CertificatePrivateKeyDecryptResult = { CertificateId: string; Plaintext: string };

/** `CertificatePublicKeyEncrypt`: the ciphertext, base64. */
export type CertificatePublicKeyEncryptResult = { CertificateId: string; CiphertextBlob: string };

/** `CertificatePublicKeyVerify`. */
export type CertificatePublicKeyVerifyResult = { CertificateId: string; SignatureValid: boolean };

/** `CreateCertificate`: the new identity and its CSR (PEM). */
export type CreateCertificateResult = { CertificateId: string; Csr: string; Arn: string };

/** `DescribeCertificate`: certificate fields are absent while the identity is PENDING (no certificate yet). */
export type DescribeCertificateResult = {
  Arn: string;
  CertificateId: string;
  CreatedAt?: string;
  UpdatedAt?: string;
  NotBefore?: string;
  NotAfter?: string;
  ExportablePrivateKey: boolean;
  Issuer?: string;
  Serial?: string;
  Subject?: string;
  KeySpec?: string;
  SignatureAlgorithm?: string;
  Status: string;
  SubjectAlternativeNames: string[];
  SubjectKeyIdentifier: string;
  SubjectPublicKey: string;
  Tags: Record<string, string>;
};

/** `GetCertificate`: the certificate and its chain (PEM) once issued, the CSR while it is kept. */
export type GetCertificateResult = {
  CertificateId: string;
  Certificate?: string;
  CertificateChain?: string;
  Csr?: string;
};

// CAS 2020-04-07 --------------------------------------------------------------------------------------------

/** `Sign`: the signature, base64. */
export type CasSignResult = { Signature: string };

/** `Verify`. */
export type CasVerifyResult = { SignatureValid: boolean };

/** `Encrypt`: the ciphertext, base64. */
export type CasEncryptResult = { CertIdentifier: string; CiphertextBlob: string };

/** `Decrypt`: the plaintext, in the encoding the request asked for. */
export type CasDecryptResult = { CertIdentifier: string; Plaintext: string };

/** `DescribeWarehouseCert`: the certificate (PEM, chain appended) and its place in the repository. */
export type DescribeWarehouseCertResult = {
  Content: string;
  Fingerprint: string;
  WarehouseInstanceId: string;
  CertIdentifier: string;
  CertStatus: string;
  CertType: string;
  CommonName: string;
  Issuer: string;
  IssuerIdentifier?: string;
};

/** `GetCertWarehouseQuota`. */
export type GetCertWarehouseQuotaResult = { TotalQuota: number; UseCount: number };

/** The paging fields of CAS list answers. */
type Paging = { CurrentPage: number; ShowSize: number; TotalCount: number };

/** One row of `ListCert.CertList`. */
type CertListItem = {
  WhId: number;
  Identifier: string;
  WhInstanceId: string;
  Status: string;
  SourceType: string;
  CertType: string;
  CommonName: string;
  BeforeDate: number;
  AfterDate: number;
  Issuer: string;
  ExistPrivateKey: boolean;
  Sans: string;
  Algorithm: string;
  SerialNo: string;
  SignAlgorithm: string;
};

/** `ListCert`. */
export type ListCertResult = Paging & { CertList: CertListItem[] };

/** One row of `ListCertWarehouse.CertWarehouseList`. */
type CertWarehouseItem = {
  WhId: number;
  InstanceId: string;
  Name: string;
  Qps: number;
  Type: string;
  EndTime: number;
  IsExpired: boolean;
};

/** `ListCertWarehouse`. */
export type ListCertWarehouseResult = Paging & { CertWarehouseList: CertWarehouseItem[] };
