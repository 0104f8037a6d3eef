import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { Name } from '@peculiar/asn1-x509';
import { formatName } from '../../crypto/distinguishedName';
import { parseSpki } from '../../crypto/keys';
import { pemDecodeAll, pemEncode } from '../../crypto/pem';
import { keyIdentifier } from '../../crypto/x509Extensions';
import type { KeyEntry } from '../../token/keyIndex';
import type { CertificateMetadata, CertificateStatus } from '../../token/metadata';
import { certificateArn, type ArnScope } from './records';
import { certificateDetails, commonNameOf, type CertificateDetails } from './x509Details';

/**
 * The facts the read operations report (GetCertificate, DescribeCertificate, ListCert, DescribeWarehouseCert):
 * pure functions of an index entry, no token call.
 */

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
