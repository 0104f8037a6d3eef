import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extensions,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectKeyIdentifier,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  type Extension,
} from '@peculiar/asn1-x509';
import { toArrayBuffer, toDer } from './asn1';
import { asn1Time } from './asn1Time';
import { unsignedIntegerContent } from './der';
import { parseDistinguishedName } from './distinguishedName';
import { EncodingError } from './encodingError';
import { parseSpki } from './keys';
import { assertOid, extension, keyIdentifier, subjectAltNameExtension } from './x509Extensions';
import {
  signAndCheck,
  signatureAlgorithmIdentifier,
  type DerSigner,
  type SignatureAlgorithmName,
} from './x509Signature';

// Callers build certificates from this module; these live in their own files but belong to the same job.
export { formatName, parseDistinguishedName } from './distinguishedName';
export { pemEncode } from './pem';
export type { SignatureAlgorithmName } from './x509Signature';

/** The keyUsage bits a certificate may assert (RFC 5280 §4.2.1.3). */
type KeyUsageName = 'digitalSignature' | 'nonRepudiation' | 'keyCertSign' | 'cRLSign' | 'keyEncipherment';

/** Everything an X.509 v3 certificate needs; the private key stays behind `signer`. */
export interface CertificateRequestParams {
  /** RFC 4514 string, e.g. `CN=example.com,O=Example,C=CN` (see `parseDistinguishedName`). */
  subject: string;
  /** RFC 4514 string; must be non-empty (RFC 5280 §4.1.2.4). */
  issuer: string;
  /** Unsigned big-endian; at most 20 octets once encoded as a positive INTEGER (RFC 5280 §4.1.2.2). */
  serialNumber: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** DER SPKI of the certified key (`rsaSpki` / `ecSpki`). */
  subjectPublicKeyInfo: Buffer;
  /**
   * DER SPKI of the issuer's key: gives the AuthorityKeyIdentifier and checks the signature. May be
   * omitted only when `issuer` equals `subject` (self-signed: the subject's own key is used).
   */
  issuerPublicKeyInfo?: Buffer;
  isCA: boolean;
  /** Only with `isCA` (RFC 5280 §4.2.1.9). */
  pathLen?: number;
  /** Empty ⇒ no keyUsage extension (the extension must assert at least one bit). */
  keyUsage: KeyUsageName[];
  /** Dotted OIDs (e.g. `1.3.6.1.5.5.7.3.1`); omitted or empty ⇒ no extension. */
  extendedKeyUsage?: string[];
  /** DNS names; omitted or empty ⇒ no extension. */
  subjectAltNames?: string[];
  signatureAlgorithm: SignatureAlgorithmName;
  signer: DerSigner;
}

/** The serial as the content octets of a positive INTEGER of at most 20 octets. */
function serialNumberContent(serial: Buffer): ArrayBuffer {
  const content = unsignedIntegerContent(serial);
  if (content.length === 1 && content[0] === 0) throw new EncodingError('Certificate: serial number must be positive');
  if (content.length > 20) {
    throw new EncodingError('Certificate: serial number is longer than 20 octets (RFC 5280 §4.1.2.2)');
  }
  return toArrayBuffer(content);
}

function keyUsageExtension(usages: readonly KeyUsageName[], isCA: boolean): Extension | undefined {
  if (usages.length === 0) return undefined;
  // RFC 5280 §4.2.1.3: "If the keyCertSign bit is asserted, then the cA bit ... MUST also be asserted."
  if (usages.includes('keyCertSign') && !isCA) throw new EncodingError('Certificate: keyCertSign requires isCA');
  const flags = usages.reduce((bits, usage) => bits | KeyUsageFlags[usage], 0);
  return extension(id_ce_keyUsage, true, new KeyUsage(flags));
}

function basicConstraintsExtension(isCA: boolean, pathLen: number | undefined): Extension {
  if (pathLen !== undefined) {
    if (!isCA) throw new EncodingError('Certificate: pathLen is only allowed with isCA (RFC 5280 §4.2.1.9)');
    if (!Number.isInteger(pathLen) || pathLen < 0) throw new EncodingError('Certificate: pathLen must be ≥ 0');
  }
  // cA FALSE is the DEFAULT and is left out, so an end-entity gets the DER `30 00`.
  return extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: isCA, pathLenConstraint: pathLen }));
}

function extendedKeyUsageExtension(oids: readonly string[] | undefined): Extension | undefined {
  if (oids === undefined || oids.length === 0) return undefined;
  oids.forEach((oid) => assertOid(oid, 'extendedKeyUsage'));
  return extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([...oids]));
}

/**
 * Builds and signs an X.509 v3 certificate (RFC 5280). Extensions: basicConstraints (critical),
 * keyUsage (critical), extKeyUsage and subjectAltName when given, subjectKeyIdentifier (RFC 5280
 * §4.2.1.2 method 1) and authorityKeyIdentifier (the issuer key's identifier by the same method).
 * The signer receives the DER TBSCertificate; its signature is verified against the issuer key before
 * the certificate is returned as DER. Throws `EncodingError` on invalid parameters or a bad signature.
 */
export async function buildCertificate(p: CertificateRequestParams): Promise<Buffer> {
  const subject = parseDistinguishedName(p.subject);
  const issuer = parseDistinguishedName(p.issuer);
  if (issuer.length === 0) throw new EncodingError('Certificate: the issuer name must not be empty');
  const subjectSpki = parseSpki(p.subjectPublicKeyInfo);
  const selfIssued = toDer(subject).equals(toDer(issuer));
  const issuerSpkiDer = p.issuerPublicKeyInfo ?? (selfIssued ? p.subjectPublicKeyInfo : undefined);
  if (issuerSpkiDer === undefined) {
    // Guessing would write an AuthorityKeyIdentifier that chain builders then fail to match.
    throw new EncodingError('Certificate: issuerPublicKeyInfo is required when issuer differs from subject');
  }
  if (p.notAfter.getTime() < p.notBefore.getTime())
    throw new EncodingError('Certificate: notAfter is before notBefore');

  const extensions = [
    basicConstraintsExtension(p.isCA, p.pathLen),
    keyUsageExtension(p.keyUsage, p.isCA),
    extendedKeyUsageExtension(p.extendedKeyUsage),
    p.subjectAltNames !== undefined && p.subjectAltNames.length > 0
      ? subjectAltNameExtension(p.subjectAltNames, subject.length === 0)
      : undefined,
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(subjectSpki))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(parseSpki(issuerSpkiDer))) }),
    ),
  ].filter((ext): ext is Extension => ext !== undefined);

  const validity = new Validity();
  validity.notBefore = asn1Time(p.notBefore);
  validity.notAfter = asn1Time(p.notAfter);
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumberContent(p.serialNumber),
    signature: signatureAlgorithmIdentifier(p.signatureAlgorithm),
    issuer,
    validity,
    subject,
    subjectPublicKeyInfo: subjectSpki,
    extensions: new Extensions(extensions),
  });
  const tbs = toDer(tbsCertificate);
  const signature = await signAndCheck(p.signatureAlgorithm, p.signer, issuerSpkiDer, tbs, 'Certificate');
  return toDer(
    new Certificate({
      tbsCertificate,
      signatureAlgorithm: signatureAlgorithmIdentifier(p.signatureAlgorithm),
      signatureValue: toArrayBuffer(signature),
    }),
  );
}
