import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { Attribute, Extensions } from '@peculiar/asn1-x509';
import { toArrayBuffer, toDer } from './asn1';
import { parseDistinguishedName } from './distinguishedName';
import { parseSpki } from './keys';
import { subjectAltNameExtension } from './x509Extensions';
import {
  signAndCheck,
  signatureAlgorithmIdentifier,
  type DerSigner,
  type SignatureAlgorithmName,
} from './x509Signature';

/** PKCS#9 extensionRequest (RFC 2985 §5.4.2): the CSR attribute that carries requested extensions. */
export const id_pkcs9_extensionRequest = '1.2.840.113549.1.9.14';

/** A PKCS#10 request for the key behind `signer` (KMS CreateCertificate returns one as PEM). */
export interface CsrParams {
  /** RFC 4514 string (see `parseDistinguishedName`). */
  subject: string;
  /** DER SPKI of the key that `signer` signs with: the request proves possession of it. */
  subjectPublicKeyInfo: Buffer;
  /** DNS names, requested through an extensionRequest attribute; omitted or empty ⇒ no attribute. */
  subjectAltNames?: string[];
  signatureAlgorithm: SignatureAlgorithmName;
  signer: DerSigner;
}

/**
 * Builds and signs a PKCS#10 CertificationRequest (RFC 2986), version 0. The signer receives the DER
 * CertificationRequestInfo; its signature is verified against `subjectPublicKeyInfo` before the DER
 * request is returned. Throws `EncodingError` on invalid parameters or a bad signature.
 */
export async function buildCsr(p: CsrParams): Promise<Buffer> {
  const subject = parseDistinguishedName(p.subject);
  const attributes =
    p.subjectAltNames !== undefined && p.subjectAltNames.length > 0
      ? [
          new Attribute({
            type: id_pkcs9_extensionRequest,
            // SAN is critical when the subject is empty (RFC 5280 §4.2.1.6); a CA copies that over.
            values: [
              toArrayBuffer(toDer(new Extensions([subjectAltNameExtension(p.subjectAltNames, subject.length === 0)]))),
            ],
          }),
        ]
      : [];
  const info = new CertificationRequestInfo({
    version: 0,
    subject,
    subjectPKInfo: parseSpki(p.subjectPublicKeyInfo),
    // Always present, possibly empty (`A0 00`): RFC 2986 makes the attributes field mandatory.
    attributes: new Attributes(attributes),
  });
  const tbs = toDer(info);
  const signature = await signAndCheck(p.signatureAlgorithm, p.signer, p.subjectPublicKeyInfo, tbs, 'CSR');
  return toDer(
    new CertificationRequest({
      certificationRequestInfo: info,
      signatureAlgorithm: signatureAlgorithmIdentifier(p.signatureAlgorithm),
      signature: toArrayBuffer(signature),
    }),
  );
}
