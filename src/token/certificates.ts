import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  Certificate,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  type Name,
} from '@peculiar/asn1-x509';
import * as pkcs11 from 'pkcs11js';
import { SIGNATURE_ALGORITHMS, keySpecRow, type KeySpec } from '../crypto/algorithms';
import { buildCsr } from '../crypto/csrBuilder';
import { formatName, parseDistinguishedName } from '../crypto/distinguishedName';
import { EncodingError } from '../crypto/encodingError';
import { parseSpki, spkiEquals } from '../crypto/keys';
import { pemDecodeAll, pemEncode } from '../crypto/pem';
import { keyIdentifier, subjectAltNameExtension } from '../crypto/x509Extensions';
import { ApiError, invalidParameter } from '../errors/apiError';
import { buildChain, type KeyEntry } from './keyIndex';
import { METADATA_APPLICATION, type CertificateMetadata, type CertificateStatus } from './metadata';
import { generateKeyPair, storeCertificate, storeMetadata } from './objects';
import { tokenSigner, x509AlgorithmFor } from './issuing';
import type { TokenManager } from './tokenManager';

/**
 * The certificate lifecycle on a token (KMS CreateCertificate, UploadCertificate, UpdateCertificateStatus,
 * DeleteCertificate, and the facts GetCertificate/DescribeCertificate/ListCert report), as plain functions of a
 * TokenManager: the API operations and the operator CLI call the same code. Everything lives ON THE TOKEN:
 * key pair, certificate, chain certificates and the lifecycle metadata data object (metadata.ts), so every daemon
 * in front of the same HSM sees the same state. Every write re-reads the token first and re-indexes after.
 * Errors are ApiErrors with the KMS codes (Certificate.NotFound, InvalidParameter, UnsupportedOperation, …).
 */

/** Where an ARN points: `acs:kms:<regionId>:<accountId>:certificate/<id>`. */
export interface ArnScope {
  readonly regionId: string;
  readonly accountId: string;
}

/** The KMS `Arn` of a certificate identifier. */
function certificateArn(scope: ArnScope, id: string): string {
  return `acs:kms:${scope.regionId}:${scope.accountId}:certificate/${id}`;
}

/** At most this many SubjectAlternativeNames (KMS CreateCertificate: "a maximum of 10 domain names"). */
const MAX_SUBJECT_ALTERNATIVE_NAMES = 10;

/** `YYYY-MM-DDThh:mm:ssZ`, the KMS date format (DescribeCertificate). */
export function kmsDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Label prefix of the chain certificates stored for an identifier (`<id>/chain/0`, `<id>/chain/1`, …). */
function chainLabelPrefix(id: string): string {
  return `${id}/chain/`;
}

const OID_CN = '2.5.4.3';
const REQUIRED_SUBJECT: ReadonlyArray<readonly [string, string]> = [
  [OID_CN, 'CN'],
  ['2.5.4.6', 'C'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
];

/** Parses a CreateCertificate `Subject` (RFC 2253/4514) and checks that CN, C, O and OU are present (KMS doc). */
function parseKmsSubject(subject: string): Name {
  let name: Name;
  try {
    name = parseDistinguishedName(subject);
  } catch (e) {
    throw invalidParameter('Subject', e instanceof EncodingError ? e.message : 'not an RFC 2253 distinguished name.');
  }
  const present = new Set([...name].flatMap((rdn) => [...rdn].map((atv) => atv.type)));
  const missing = REQUIRED_SUBJECT.filter(([oid]) => !present.has(oid)).map(([, short]) => short);
  if (missing.length > 0) {
    throw invalidParameter(
      'Subject',
      `${missing.join(', ')} missing: CN, C, O and OU are required (ST and L optional).`,
    );
  }
  return name;
}

/** Checks SubjectAlternativeNames: at most 10 DNS names (A-labels, optional `*.` wildcard). */
function checkSubjectAlternativeNames(names: readonly string[]): void {
  if (names.length > MAX_SUBJECT_ALTERNATIVE_NAMES) {
    throw invalidParameter(
      'SubjectAlternativeNames',
      `at most ${MAX_SUBJECT_ALTERNATIVE_NAMES} names; got ${names.length}.`,
    );
  }
  if (names.length === 0) return;
  try {
    subjectAltNameExtension(names, false);
  } catch (e) {
    throw invalidParameter('SubjectAlternativeNames', e instanceof EncodingError ? e.message : 'not DNS names.');
  }
}

/** What a new certificate is made of. */
export interface CreateCertificateInput {
  /** RFC 2253 DN with CN, C, O and OU (ST, L optional). */
  readonly subject: string;
  readonly keySpec: string;
  readonly subjectAlternativeNames?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly arnScope: ArnScope;
  /** The identifier (CKA_LABEL of the keys); default: a new UUID, as KMS certificate ids are. */
  readonly id?: string;
  readonly now?: Date;
}

export interface CreatedCertificate {
  readonly id: string;
  readonly keySpec: KeySpec;
  /** PKCS#10, PEM, signed by the new key inside the token. */
  readonly csrPem: string;
  readonly arn: string;
}

/** Identifiers the CLI may choose: they become CKA_LABELs and ARNs. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * KMS CreateCertificate: generates the key pair INSIDE the token (sensitive, never extractable; RSA keys may also
 * decrypt, for CertificatePrivateKeyDecrypt), builds the PKCS#10 request for `subject` and the SANs signed by that
 * key through PKCS#11, and records the PENDING certificate's metadata on the token. Any failure after the key
 * pair exists destroys it again.
 */
export async function createCertificate(
  token: TokenManager,
  input: CreateCertificateInput,
): Promise<CreatedCertificate> {
  const row = keySpecRow(input.keySpec);
  if (!row || row.kmsKeyOnly || !SIGNATURE_ALGORITHMS.some((a) => a.keySpecs.includes(row.spec))) {
    throw invalidParameter('KeySpec', `unknown key spec ${input.keySpec}.`);
  }
  if (!token.canGenerate(row)) {
    throw new ApiError(
      'UnsupportedOperation',
      row.vendorProfile === 'sm2'
        ? `KeySpec ${row.spec} needs SM2, which the token behind warehouse ${token.warehouseId} does not offer (no SM2 HSM profile).`
        : `KeySpec ${row.spec} is not supported by the token behind warehouse ${token.warehouseId}.`,
    );
  }
  parseKmsSubject(input.subject);
  const sans = [...(input.subjectAlternativeNames ?? [])];
  checkSubjectAlternativeNames(sans);
  if (input.id !== undefined) {
    if (!ID_PATTERN.test(input.id)) throw invalidParameter('CertificateId', 'use letters, digits, ".", "_" and "-".');
    await token.refreshIdentity(input.id);
    if (token.lookup(input.id)) throw new ApiError('Certificate.AlreadyExists');
  }
  const id = input.id ?? randomUUID();
  // CKA_ID = the UUID's 16 bytes, so `pkcs11-tool --id` finds an identity from its CertificateId.
  const ckaId = UUID_PATTERN.test(id) ? Buffer.from(id.replace(/-/g, ''), 'hex') : randomBytes(16);
  const key = await generateKeyPair(token, row, id, ckaId, 'sign+decrypt');
  try {
    // The CSR is signed through token.sign, which finds keys through the index.
    await token.refreshIdentity(id);
    const csrDer = await buildCsr({
      subject: input.subject,
      subjectPublicKeyInfo: key.spki,
      subjectAltNames: sans,
      signatureAlgorithm: x509AlgorithmFor(row.keyType),
      signer: tokenSigner(token, id, row.keyType),
    });
    const csrPem = pemEncode('CERTIFICATE REQUEST', csrDer);
    const now = kmsDate(input.now ?? new Date());
    const arn = certificateArn(input.arnScope, id);
    await storeMetadata(token, id, {
      status: 'PENDING',
      keySpec: row.spec,
      usage: 'sign+decrypt',
      createdAt: now,
      updatedAt: now,
      csr: csrPem,
      subjectAlternativeNames: sans,
      tags: { ...input.tags },
      arn,
    });
    await token.identityChanged(id);
    return { id, keySpec: row.spec, csrPem, arn };
  } catch (e) {
    try {
      await destroyIdentityObjects(token, id, ckaId, undefined);
      await token.identityChanged(id);
    } catch {
      // The original failure is what the caller needs; a leftover PENDING key shows up in the index and can be
      // deleted with DeleteCertificate.
    }
    throw e;
  }
}

/** Every certificate of a PEM parameter, or InvalidParameter naming the parameter and the bad block. */
function parseCertificates(param: string, pem: string): X509Certificate[] {
  let blocks;
  try {
    blocks = pemDecodeAll(pem);
  } catch (e) {
    throw invalidParameter(param, e instanceof EncodingError ? e.message : 'not PEM.');
  }
  if (blocks.length === 0) throw invalidParameter(param, 'no PEM CERTIFICATE block.');
  return blocks.map((b, i) => {
    if (b.label !== 'CERTIFICATE') throw invalidParameter(param, `block ${i + 1} is ${b.label}, not CERTIFICATE.`);
    try {
      const x = new X509Certificate(b.der);
      // The token object needs subject, issuer and serial (storeCertificate): parse them now, not halfway.
      AsnConvert.parse(b.der, Certificate);
      return x;
    } catch {
      throw invalidParameter(param, `block ${i + 1} is not an X.509 certificate.`);
    }
  });
}

export interface UploadResult {
  readonly status: CertificateStatus;
  /** True when a previous certificate was replaced (renewal). */
  readonly replaced: boolean;
}

/**
 * KMS UploadCertificate: stores the certificate of a key pair on the token, and its chain. The certificate's
 * public key must be the key pair's; the chain (optional) must parse and be the issuer chain of the
 * certificate, in any order (nearest issuer first is how it is returned). A previous certificate and chain
 * (renewal) are replaced: the new objects are written first, then the old ones destroyed. A PENDING certificate
 * becomes ACTIVE; any other status is kept (re-uploading never re-enables a disabled or revoked certificate).
 */
export async function uploadCertificate(
  token: TokenManager,
  id: string,
  certificatePem: string,
  chainPem?: string,
  now: Date = new Date(),
): Promise<UploadResult> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  const certs = parseCertificates('Certificate', certificatePem);
  if (certs.length !== 1) throw invalidParameter('Certificate', `expected one certificate, got ${certs.length}.`);
  const leaf = certs[0] as X509Certificate;
  let sameKey: boolean;
  try {
    sameKey = spkiEquals(leaf.publicKey.export({ type: 'spki', format: 'der' }), entry.spki);
  } catch {
    sameKey = false;
  }
  if (!sameKey) {
    throw invalidParameter('Certificate', 'its public key is not the public key of the key pair of this certificate.');
  }
  const given =
    chainPem === undefined || chainPem.trim() === ''
      ? []
      : parseCertificates('CertificateChain', chainPem).filter((c) => !c.raw.equals(leaf.raw));
  const chain = buildChain(leaf, given);
  if (chain.length !== given.length) {
    throw invalidParameter(
      'CertificateChain',
      'every certificate must be in the issuer chain of Certificate (its issuer, the issuer of that, and so on).',
    );
  }
  if (entry.ckaId.length === 0) {
    throw new ApiError(
      'UnsupportedOperation',
      'The key pair of this certificate has no CKA_ID on the token, so no certificate can be linked to it.',
    );
  }
  const previous = await certificateObjects(token, id, entry.ckaId);
  const before = new Set(await allCertificateHandles(token));
  try {
    await storeCertificate(token, id, entry.ckaId, leaf.raw);
    // Chain certificates carry no CKA_ID: the index treats them as chain material, never as an identity.
    for (const [i, der] of chain.entries()) {
      await storeCertificate(token, `${chainLabelPrefix(id)}${i}`, Buffer.alloc(0), der);
    }
  } catch (e) {
    try {
      await destroyHandles(
        token,
        (await allCertificateHandles(token)).filter((h) => !before.has(h)),
      );
    } catch {
      // Keep the original error; a stray chain object is harmless chain material.
    }
    throw e;
  }
  await destroyHandles(token, previous);
  const status: CertificateStatus = entry.metadata.status === 'PENDING' ? 'ACTIVE' : entry.metadata.status;
  await storeMetadata(token, id, { ...entry.metadata, status, updatedAt: kmsDate(now) });
  await token.identityChanged(id, { full: true });
  return { status, replaced: previous.length > 0 };
}

/**
 * KMS UpdateCertificateStatus: ACTIVE, INACTIVE (refuses private-key use) or REVOKED (verify only). A PENDING
 * certificate has nothing to enable or disable yet (Rejected.Pending). Revocation is reversible here, as the
 * cloud's documentation does not forbid it.
 */
export async function setCertificateStatus(
  token: TokenManager,
  id: string,
  status: Exclude<CertificateStatus, 'PENDING'>,
  now: Date = new Date(),
): Promise<void> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  if (entry.metadata.status === 'PENDING' && entry.certificate === undefined) throw new ApiError('Rejected.Pending');
  // Writing the status also repairs missing, damaged or duplicated metadata (storeMetadata leaves one object).
  if (entry.metadata.status === status && entry.problem === undefined) return;
  await storeMetadata(token, id, { ...entry.metadata, status, updatedAt: kmsDate(now) });
  await token.identityChanged(id);
}

/**
 * KMS DeleteCertificate: destroys the key pair, the certificate, the chain certificates stored for it and its
 * metadata. The private key goes first (the identity is gone even if a later step fails) and the metadata
 * last (a half-deleted identity must never reappear as ACTIVE). Returns the number of objects destroyed.
 */
export async function deleteCertificate(token: TokenManager, id: string): Promise<number> {
  await token.refreshIdentity(id);
  const entry = token.lookup(id);
  if (!entry) throw new ApiError('Certificate.NotFound');
  const n = await destroyIdentityObjects(token, id, entry.ckaId, entry);
  await token.identityChanged(id);
  return n;
}

/** Handles as map keys: pkcs11js handles are Buffers. */
const key = (h: pkcs11.Handle): string => h.toString('hex');

function allCertificateHandles(token: TokenManager): Promise<string[]> {
  return token.admin(async (session, lib) =>
    (await lib.findObjects(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE }])).map(key),
  );
}

/**
 * The certificate objects of an identity, exactly: its own certificate (the entry's handle, or the certificate
 * labelled with the identifier and carrying its CKA_ID) and the chain certificates stored for it (`<id>/chain/N`,
 * no CKA_ID). Another identity's certificate that happens to share the label or the CKA_ID is never included.
 */
function certificateObjects(token: TokenManager, id: string, ckaId: Buffer): Promise<string[]> {
  const prefix = chainLabelPrefix(id);
  return token.admin(async (session, lib) => {
    const out: string[] = [];
    for (const h of await lib.findObjects(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE }])) {
      const a = await lib.getAttributes(session, h, [pkcs11.CKA_LABEL, pkcs11.CKA_ID]);
      const label = (a.get(pkcs11.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8');
      const objectId = a.get(pkcs11.CKA_ID) ?? Buffer.alloc(0);
      const own = label === id && (ckaId.length === 0 || objectId.equals(ckaId));
      const chain = label.startsWith(prefix) && objectId.length === 0;
      if (own || chain) out.push(key(h));
    }
    return out;
  });
}

function destroyHandles(token: TokenManager, handles: readonly string[]): Promise<void> {
  if (handles.length === 0) return Promise.resolve();
  return token.admin(async (session, lib) => {
    for (const h of handles) await lib.C_DestroyObject(session, Buffer.from(h, 'hex'));
  });
}

/**
 * Destroys exactly the objects of one identity, in a safe order: private key, public key, certificates (own and
 * chain), metadata. Keys are the ones with the identity's CKA_ID and label (or the index entry's handles); an
 * object of another identity that shares only the label or only the CKA_ID is left alone.
 */
async function destroyIdentityObjects(
  token: TokenManager,
  id: string,
  ckaId: Buffer,
  entry: KeyEntry | undefined,
): Promise<number> {
  const byClass = (cls: number): Promise<string[]> =>
    token.admin(async (session, lib) =>
      (
        await lib.findObjects(session, [
          { type: pkcs11.CKA_CLASS, value: cls },
          ...(ckaId.length > 0 ? [{ type: pkcs11.CKA_ID, value: ckaId }] : []),
          { type: pkcs11.CKA_LABEL, value: id },
        ])
      ).map(key),
    );
  const privateKeys = new Set(await byClass(pkcs11.CKO_PRIVATE_KEY));
  if (entry) privateKeys.add(key(entry.privateKey));
  const publicKeys = new Set(await byClass(pkcs11.CKO_PUBLIC_KEY));
  if (entry?.publicKeyHandle) publicKeys.add(key(entry.publicKeyHandle));
  const certificates = new Set(await certificateObjects(token, id, ckaId));
  if (entry?.certificateHandle) certificates.add(key(entry.certificateHandle));
  const metadata = await token.admin(async (session, lib) =>
    (
      await lib.findObjects(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_APPLICATION, value: METADATA_APPLICATION },
        { type: pkcs11.CKA_LABEL, value: id },
      ])
    ).map(key),
  );
  const ordered = [...privateKeys, ...publicKeys, ...certificates, ...metadata];
  await destroyHandles(token, ordered);
  return ordered.length;
}

// ---------------------------------------------------------------------------------------------------------------
// Facts (GetCertificate, DescribeCertificate, ListCert, DescribeWarehouseCert): pure functions of an index entry.

/** What the X.509 certificate of an entry says. */
export interface CertificateDetails {
  readonly pem: string;
  readonly der: Buffer;
  /** RFC 4514 strings. */
  readonly subject: string;
  readonly issuer: string;
  readonly commonName: string;
  /** The issuer's CN, else its O, else the whole issuer DN (CAS `Issuer` is a short name). */
  readonly issuerName: string;
  /** Upper-case hex, as node and OpenSSL print it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: string[];
  readonly subjectKeyIdentifier: Buffer | undefined;
  /** SHA-1 of the DER, upper-case hex without separators (CAS `Fingerprint`). */
  readonly fingerprintSha1: string;
  readonly isCA: boolean;
}

/** Everything the API reports about a certificate identifier. */
export interface CertificateFacts {
  readonly id: string;
  readonly status: CertificateStatus;
  readonly keySpec: string | undefined;
  readonly arn: string;
  /** From the certificate, or (PENDING) from the CSR. */
  readonly subject: string | undefined;
  readonly commonName: string;
  readonly subjectAlternativeNames: string[];
  readonly subjectPublicKeyPem: string;
  /** From the certificate's extension, else RFC 5280 §4.2.1.2 method 1 over the key. */
  readonly subjectKeyIdentifier: Buffer;
  readonly certificate: CertificateDetails | undefined;
  /** Nearest issuer first, PEM blocks concatenated ('' when none). */
  readonly chainPem: string;
  readonly csrPem: string | undefined;
  readonly createdAt: string | undefined;
  readonly updatedAt: string | undefined;
  readonly tags: Record<string, string>;
  /** Always false: private keys are generated in the token as non-extractable and never leave it. */
  readonly exportablePrivateKey: false;
}

function commonNameOf(name: Name): string | undefined {
  for (const rdn of name) for (const atv of rdn) if (atv.type === OID_CN) return atv.value.toString();
  return undefined;
}

function organizationOf(name: Name): string | undefined {
  for (const rdn of name) for (const atv of rdn) if (atv.type === '2.5.4.10') return atv.value.toString();
  return undefined;
}

/** Reads the facts of an X.509 certificate. */
export function certificateDetails(x509: X509Certificate): CertificateDetails {
  const cert = AsnConvert.parse(x509.raw, Certificate);
  const tbs = cert.tbsCertificate;
  const extensions = tbs.extensions ?? [];
  const sanExt = extensions.find((e) => e.extnID === id_ce_subjectAltName);
  const dnsNames = sanExt
    ? AsnConvert.parse(sanExt.extnValue.buffer, SubjectAlternativeName).flatMap((g) =>
        g.dNSName !== undefined ? [g.dNSName] : [],
      )
    : [];
  const skiExt = extensions.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  const ski = skiExt ? Buffer.from(AsnConvert.parse(skiExt.extnValue.buffer, SubjectKeyIdentifier).buffer) : undefined;
  const issuer = formatName(tbs.issuer);
  return {
    pem: pemEncode('CERTIFICATE', x509.raw),
    der: x509.raw,
    subject: formatName(tbs.subject),
    issuer,
    commonName: commonNameOf(tbs.subject) ?? '',
    issuerName: commonNameOf(tbs.issuer) ?? organizationOf(tbs.issuer) ?? issuer,
    serial: x509.serialNumber.toUpperCase(),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    dnsNames,
    subjectKeyIdentifier: ski,
    fingerprintSha1: x509.fingerprint.replace(/:/g, '').toUpperCase(),
    isCA: x509.ca,
  };
}

function csrSubject(csrPem: string | undefined): Name | undefined {
  if (csrPem === undefined) return undefined;
  try {
    const der = pemDecodeAll(csrPem)[0]?.der;
    return der ? AsnConvert.parse(der, CertificationRequest).certificationRequestInfo.subject : undefined;
  } catch {
    return undefined;
  }
}

/** Everything the API reports about an entry. `arnScope` builds the ARN of identities created elsewhere. */
export function certificateFacts(entry: KeyEntry, arnScope: ArnScope): CertificateFacts {
  const m: CertificateMetadata = entry.metadata;
  const details = entry.certificate ? certificateDetails(entry.certificate) : undefined;
  const requested = details ? undefined : csrSubject(m.csr);
  return {
    id: entry.id,
    status: m.status,
    keySpec: entry.keySpec ?? m.keySpec,
    arn: m.arn ?? certificateArn(arnScope, entry.id),
    subject: details?.subject ?? (requested ? formatName(requested) : undefined),
    commonName: details?.commonName ?? (requested ? (commonNameOf(requested) ?? '') : ''),
    subjectAlternativeNames: details?.dnsNames ?? [...(m.subjectAlternativeNames ?? [])],
    subjectPublicKeyPem: entry.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    subjectKeyIdentifier: details?.subjectKeyIdentifier ?? keyIdentifier(parseSpki(entry.spki)),
    certificate: details,
    chainPem: entry.chain.map((der) => pemEncode('CERTIFICATE', der)).join(''),
    csrPem: m.csr,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    tags: { ...m.tags },
    exportablePrivateKey: false,
  };
}

/** `79 36 26 DE …`: how KMS DescribeCertificate prints a SubjectKeyIdentifier. */
export function formatKeyIdentifier(ski: Buffer): string {
  return (ski.toString('hex').toUpperCase().match(/../g) ?? []).join(' ');
}

/** The entry whose certificate issued `entry`'s certificate, among `candidates` (CAS `IssuerIdentifier`). */
export function issuerEntry(entry: KeyEntry, candidates: readonly KeyEntry[]): KeyEntry | undefined {
  const cert = entry.certificate;
  if (!cert) return undefined;
  return candidates.find((c) => {
    const issuer = c.certificate;
    if (!issuer) return false;
    try {
      return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
    } catch {
      return false;
    }
  });
}
