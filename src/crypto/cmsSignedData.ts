import { createHash, X509Certificate } from 'node:crypto';
import {
  AsnAnyConverter,
  AsnArray,
  AsnConvert,
  AsnObjectIdentifierConverter,
  AsnType,
  AsnTypeTypes,
  OctetString,
} from '@peculiar/asn1-schema';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  ContentInfo,
  DigestAlgorithmIdentifier,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignatureAlgorithmIdentifier,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  id_contentType,
  id_data,
  id_messageDigest,
  id_signedData,
  id_signingTime,
} from '@peculiar/asn1-cms';
import { Certificate } from '@peculiar/asn1-x509';
import { id_rsaEncryption, id_sha256 } from '@peculiar/asn1-rsa';
import { toArrayBuffer, toDer } from './asn1';
import { asn1Time } from './asn1Time';
import { derSetOrder } from './der';
import { EncodingError } from './encodingError';
import { assertSignatureValid } from './x509Signature';

/**
 * CMS SignedData (RFC 5652) for CAS `SigningAlgorithm=SHA256withRSA/P7` (protocol §9.6): one RSA signer
 * with signed attributes, built in software because tokens lack CKM_CMS_SIG (SoftHSMv2#396).
 */

/** Inputs of one SHA256withRSA/P7 signature. */
export interface SignedDataParams {
  /** Attached mode: the data, carried as eContent. Omit for a detached signature (the §9.6 default). */
  content?: Buffer;
  /** SHA-256 of the content, computed by the caller (so `MessageType=DIGEST` needs no content). */
  messageDigest: Buffer;
  /** DER certificate of the signing key; becomes the SignerInfo's issuerAndSerialNumber. */
  signerCertificate: Buffer;
  /** DER certificates placed after the signer's (intermediates, optionally the root). */
  chain: Buffer[];
  signingTime: Date;
  /** RSASSA-PKCS1-v1_5 with SHA-256 over the given bytes (on a token: CKM_SHA256_RSA_PKCS). */
  signer: (signedAttrsDer: Buffer) => Promise<Buffer>;
}

/**
 * `SignedAttributes ::= SET SIZE (1..MAX) OF Attribute` as a standalone type: the encoding the
 * signature covers. asn1-cms only models the field, which is tagged IMPLICIT [0] inside SignerInfo.
 */
@AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })
class SignedAttributesSet extends AsnArray<Attribute> {
  constructor(items?: Attribute[]) {
    super(items);
    Object.setPrototypeOf(this, SignedAttributesSet.prototype);
  }
}

/**
 * A certificate that serializes as the caller's exact bytes. Re-encoding a parsed Certificate through
 * asn1-schema drops explicit DEFAULTs (`critical FALSE`) that real CAs emit, which would break the
 * certificate's own signature; asn1-schema's serializer uses `toASN()` when an object provides one.
 */
class VerbatimCertificate extends Certificate {
  constructor(private readonly der: Buffer) {
    super();
    if (!Buffer.from(this.toASN().toBER()).equals(der)) {
      throw new EncodingError('CMS: a certificate is not DER-encoded');
    }
  }

  toASN(): ReturnType<typeof AsnAnyConverter.toASN> {
    return AsnAnyConverter.toASN(toArrayBuffer(this.der));
  }

  fromASN(): this {
    throw new Error('VerbatimCertificate is write-only');
  }
}

function loadCertificate(der: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new EncodingError(`CMS: the ${what} is not an X.509 certificate`, { cause });
  }
}

function attribute(attrType: string, value: ArrayBuffer): Attribute {
  return new Attribute({ attrType, attrValues: [value] });
}

/**
 * Builds a DER `ContentInfo { id-signedData, SignedData }`: version 1, digestAlgorithms {sha256},
 * encapContentInfo id-data (eContent only when `content` is given), certificates = signer then chain,
 * and one SignerInfo (version 1, issuerAndSerialNumber, sha256, signed attributes contentType /
 * signingTime / messageDigest, rsaEncryption). The signer signs the signed attributes encoded as an
 * explicit `SET OF` (tag 0x31), which then appear in SignerInfo with the IMPLICIT [0] tag (0xA0) over the
 * same content octets (RFC 5652 §5.4). The signature is checked against the signer certificate's key.
 * Throws `EncodingError` on a wrong digest length, a digest that does not match attached content,
 * a malformed certificate or a bad signature.
 */
export async function buildSignedData(p: SignedDataParams): Promise<Buffer> {
  if (p.messageDigest.length !== 32) throw new EncodingError('CMS: messageDigest must be a 32-byte SHA-256');
  if (p.content !== undefined && !createHash('sha256').update(p.content).digest().equals(p.messageDigest)) {
    throw new EncodingError('CMS: messageDigest is not the SHA-256 of the attached content');
  }
  const signerCert = loadCertificate(p.signerCertificate, 'signer certificate');
  p.chain.forEach((der, i) => loadCertificate(der, `chain certificate #${i + 1}`));
  // Signer first, in the caller's order, rather than DER SET OF order: verifiers that take the first
  // certificate as the signer's exist, and none that we know of insists on sorted certificates.
  const certificates = [p.signerCertificate, ...p.chain].map(
    (der) => new CertificateChoices({ certificate: new VerbatimCertificate(der) }),
  );
  const { tbsCertificate } = AsnConvert.parse(p.signerCertificate, Certificate);

  // DER orders a SET OF by encoding (X.690 §11.6); the same order is used inside SignerInfo.
  const signedAttrs = derSetOrder(
    [
      attribute(id_contentType, AsnObjectIdentifierConverter.toASN(id_data).toBER()),
      // RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise (asn1Time does exactly this).
      attribute(id_signingTime, AsnConvert.serialize(asn1Time(p.signingTime))),
      attribute(id_messageDigest, AsnConvert.serialize(new OctetString(toArrayBuffer(p.messageDigest)))),
    ],
    toDer,
  );
  const signedAttrsDer = toDer(new SignedAttributesSet(signedAttrs));
  const signature = await p.signer(signedAttrsDer);
  if (!Buffer.isBuffer(signature) || signature.length === 0) {
    throw new EncodingError('CMS: the signer returned no signature');
  }
  const signerSpki = signerCert.publicKey.export({ type: 'spki', format: 'der' });
  assertSignatureValid('sha256WithRSAEncryption', signerSpki, signedAttrsDer, signature, 'CMS');

  const signerInfo = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({
        issuer: tbsCertificate.issuer,
        serialNumber: tbsCertificate.serialNumber,
      }),
    }),
    // RFC 5754 §2: SHA-2 AlgorithmIdentifiers are generated with absent parameters.
    digestAlgorithm: new DigestAlgorithmIdentifier({ algorithm: id_sha256 }),
    signedAttrs,
    // RFC 3370 §3.2: rsaEncryption with NULL parameters, the form OpenSSL and BouncyCastle emit.
    signatureAlgorithm: new SignatureAlgorithmIdentifier({ algorithm: id_rsaEncryption, parameters: null }),
    signature: new OctetString(toArrayBuffer(signature)),
  });
  const signedData = new SignedData({
    // RFC 5652 §5.1: version 1 because every signer uses issuerAndSerialNumber and the content is id-data.
    version: CMSVersion.v1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new DigestAlgorithmIdentifier({ algorithm: id_sha256 })]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: id_data,
      eContent:
        p.content === undefined
          ? undefined
          : new EncapsulatedContent({ single: new OctetString(toArrayBuffer(p.content)) }),
    }),
    certificates: new CertificateSet(certificates),
    signerInfos: new SignerInfos([signerInfo]),
  });
  return toDer(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) }));
}
