import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { SIGNATURE_ALGORITHMS, keySpecRow, type KeySpecRow } from '../../crypto/algorithms';
import { parseDistinguishedName } from '../../crypto/distinguishedName';
import { EncodingError } from '../../crypto/encodingError';
import { pemDecodeAll } from '../../crypto/pem';
import { subjectAltNameExtension } from '../../crypto/x509Extensions';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { TokenManager } from '../../token/tokenManager';

/**
 * The KMS input checks of the certificate lifecycle, in the API's words: the identities floor names the API
 * parameter a value came from (decision 0022), so that the operations and the operator CLI give the same answer.
 */

/** At most this many SubjectAlternativeNames (KMS CreateCertificate: "a maximum of 10 domain names"). */
const MAX_SUBJECT_ALTERNATIVE_NAMES = 10;

/** Identifiers the CLI may choose: they become CKA_LABELs and ARNs. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const OID_CN = '2.5.4.3';
const REQUIRED_SUBJECT: ReadonlyArray<readonly [string, string]> = [
  [OID_CN, 'CN'],
  ['2.5.4.6', 'C'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
];

/** The row of a CreateCertificate `KeySpec` this token can generate; InvalidParameter or UnsupportedOperation. */
export function certificateKeySpec(token: TokenManager, keySpec: string): KeySpecRow {
  const row = keySpecRow(keySpec);
  if (!row || row.kmsKeyOnly || !SIGNATURE_ALGORITHMS.some((a) => a.keySpecs.includes(row.spec))) {
    throw invalidParameter('KeySpec', `unknown key spec ${keySpec}.`);
  }
  if (!token.canGenerate(row)) {
    throw new ApiError('UnsupportedOperation', row.unavailableOn(`the token behind warehouse ${token.warehouseId}`));
  }
  return row;
}

/** Checks a CreateCertificate `Subject` (RFC 2253/4514): it parses, and CN, C, O and OU are present (KMS doc). */
export function checkKmsSubject(subject: string): void {
  let name;
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
}

/** Checks SubjectAlternativeNames: at most 10 DNS names (A-labels, optional `*.` wildcard). */
export function checkSubjectAlternativeNames(names: readonly string[]): void {
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

/** Checks an identifier the operator chose (it becomes a CKA_LABEL and an ARN). */
export function checkCertificateId(id: string): void {
  if (!ID_PATTERN.test(id)) throw invalidParameter('CertificateId', 'use letters, digits, ".", "_" and "-".');
}

/** Every certificate of a PEM parameter, or InvalidParameter naming the parameter and the bad block. */
export function parseCertificates(param: string, pem: string): X509Certificate[] {
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
