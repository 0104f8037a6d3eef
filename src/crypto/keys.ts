import { createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { ECParameters, id_ecPublicKey, id_secp256r1, id_secp384r1 } from '@peculiar/asn1-ecc';
import { RSAPublicKey, id_rsaEncryption } from '@peculiar/asn1-rsa';
import { parseDer, toArrayBuffer, toDer } from './asn1';
import { readTlv, unsignedIntegerContent } from './der';
import { EncodingError } from './encodingError';

/**
 * PKCS#11 public-key attributes → SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and Node `KeyObject`s.
 * RSA: CKA_MODULUS + CKA_PUBLIC_EXPONENT (RFC 8017 A.1.1). EC: CKA_EC_PARAMS (DER ECParameters, a named
 * curve OID) + CKA_EC_POINT (RFC 5480 §2.2).
 */

/** The curves the daemon serves (KeySpec EC_P256, EC_P384, EC_SM2, and KMS keys' EC_P256K). */
export type CurveName = 'P-256' | 'P-384' | 'SM2' | 'secp256k1';

/** GB/T 32918 / GM/T 0006 OID of the sm2p256v1 curve, used with id-ecPublicKey as OpenSSL 3 does. */
const id_sm2p256v1 = '1.2.156.10197.1.301';

/** SEC 2 OID of secp256k1 (KMS `EC_P256K`). */
const id_secp256k1 = '1.3.132.0.10';

const CURVES: Readonly<Record<CurveName, { oid: string; fieldSize: number }>> = {
  'P-256': { oid: id_secp256r1, fieldSize: 32 },
  'P-384': { oid: id_secp384r1, fieldSize: 48 },
  SM2: { oid: id_sm2p256v1, fieldSize: 32 },
  secp256k1: { oid: id_secp256k1, fieldSize: 32 },
};

/** The DER `ECParameters { namedCurve }` for a curve: what CKA_EC_PARAMS holds and SPKI carries. */
export function ecParamsFor(curve: CurveName): Buffer {
  return toDer(new ECParameters({ namedCurve: CURVES[curve].oid }));
}

const PARAMS_BY_CURVE = (Object.keys(CURVES) as CurveName[]).map((curve) => ({ curve, der: ecParamsFor(curve) }));

/**
 * The curve named by CKA_EC_PARAMS, or `undefined` for any other curve and for explicit parameters.
 * Byte comparison against the canonical named-curve encodings: those are the only form we accept.
 */
export function curveOfParams(ecParamsDer: Buffer): CurveName | undefined {
  return PARAMS_BY_CURVE.find((entry) => entry.der.equals(ecParamsDer))?.curve;
}

/** Strictly parses a SubjectPublicKeyInfo DER (throws `EncodingError` unless it is DER). */
export function parseSpki(spki: Buffer): SubjectPublicKeyInfo {
  return parseDer(spki, SubjectPublicKeyInfo, 'SubjectPublicKeyInfo');
}

/** The SPKI of an RSA public key from its unsigned big-endian modulus and public exponent. */
export function rsaSpki(modulus: Buffer, publicExponent: Buffer): Buffer {
  if (!modulus.some((byte) => byte !== 0)) throw new EncodingError('RSA: empty or zero modulus');
  if (!publicExponent.some((byte) => byte !== 0)) throw new EncodingError('RSA: empty or zero public exponent');
  const rsaKey = new RSAPublicKey({
    modulus: toArrayBuffer(unsignedIntegerContent(modulus)),
    publicExponent: toArrayBuffer(unsignedIntegerContent(publicExponent)),
  });
  return toDer(
    new SubjectPublicKeyInfo({
      // RFC 3279 §2.3.1: rsaEncryption parameters MUST be NULL.
      algorithm: new AlgorithmIdentifier({ algorithm: id_rsaEncryption, parameters: null }),
      subjectPublicKey: AsnConvert.serialize(rsaKey),
    }),
  );
}

/** Whether `point` has the length and leading octet of an uncompressed or compressed SEC 1 point. */
function isBarePoint(point: Buffer, fieldSize: number): boolean {
  const form = point[0];
  return (
    (form === 0x04 && point.length === 1 + 2 * fieldSize) ||
    ((form === 0x02 || form === 0x03) && point.length === 1 + fieldSize)
  );
}

/**
 * The SEC 1 point inside CKA_EC_POINT. PKCS#11 says the attribute is a DER OCTET STRING (SoftHSM2:
 * `04 41 04 …`), but some tokens return the bare point. Deciding by length is unambiguous: a wrapped
 * point is always 2–3 bytes longer than any valid bare point of the same curve, whereas sniffing the
 * first octets is not (a bare point can begin with bytes that look like an OCTET STRING header).
 */
function barePoint(ecPoint: Buffer, fieldSize: number): Buffer {
  if (isBarePoint(ecPoint, fieldSize)) return ecPoint;
  let inner: Buffer | undefined;
  try {
    const tlv = readTlv(ecPoint, 0);
    if (tlv.tag === 0x04 && tlv.end === ecPoint.length) inner = ecPoint.subarray(tlv.contentStart, tlv.end);
  } catch {
    // Not a DER header either: fall through to the error below, which names both accepted forms.
  }
  if (inner !== undefined && isBarePoint(inner, fieldSize)) return inner;
  throw new EncodingError('EC: CKA_EC_POINT is neither a SEC 1 point nor a DER OCTET STRING holding one');
}

/**
 * The SPKI of an EC public key (RFC 5480: id-ecPublicKey with the named curve as parameters).
 * `ecPoint` may be the DER-wrapped CKA_EC_POINT or the bare point; only P-256, P-384 and SM2 are
 * accepted. The point is not checked to lie on the curve here: `publicKeyFromSpki` does that.
 */
export function ecSpki(ecParamsDer: Buffer, ecPoint: Buffer): Buffer {
  const curve = curveOfParams(ecParamsDer);
  if (curve === undefined) throw new EncodingError('EC: CKA_EC_PARAMS is not P-256, P-384 or SM2');
  const point = barePoint(ecPoint, CURVES[curve].fieldSize);
  return toDer(
    new SubjectPublicKeyInfo({
      algorithm: new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters: toArrayBuffer(ecParamsFor(curve)) }),
      subjectPublicKey: toArrayBuffer(point),
    }),
  );
}

/**
 * A Node `KeyObject` for an SPKI DER. OpenSSL validates the key while decoding (an EC point must be on
 * its curve). SM2 keys load too, though Node reports no `asymmetricKeyType` for them.
 */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new EncodingError('SubjectPublicKeyInfo: not a public key Node can load', { cause });
  }
}

/**
 * Whether two SPKIs hold the same public key. Identical bytes are equal without parsing; otherwise both
 * are loaded and compared as keys, so a compressed and an uncompressed encoding of one EC point are
 * equal. Throws `EncodingError` if the bytes differ and either is not a loadable SPKI.
 */
export function spkiEquals(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  return publicKeyFromSpki(a).equals(publicKeyFromSpki(b));
}
