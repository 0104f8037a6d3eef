import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  Certificate,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  type Name,
} from '@peculiar/asn1-x509';
import { formatName } from '../../crypto/distinguishedName';
import { pemEncode } from '../../crypto/pem';
import { OID_CN } from './inputs';

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

/** The first CN of a name, if any. */
export function commonNameOf(name: Name): string | undefined {
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
