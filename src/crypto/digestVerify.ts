import { p256 } from '@noble/curves/p256';
import { secp256k1 } from '@noble/curves/secp256k1';
import { constants, createHash, publicDecrypt, type KeyObject } from 'node:crypto';
import { digestInfo } from './digestInfo';
import { EncodingError } from './encodingError';

/**
 * Signature verification over a DIGEST the caller computed (`MessageType=DIGEST`), with nothing but the public
 * key. node:crypto cannot do this: every `crypto.verify` hashes its input, and no Node API runs a bare
 * EVP_PKEY_verify. So:
 * - RSA PKCS#1 v1.5: OpenSSL's, through `publicDecrypt` with PKCS#1 padding (RSAVP1 and the type-1 block), then
 *   a comparison with DigestInfo (RFC 8017 §9.2);
 * - RSA PSS: RSAVP1 is OpenSSL's (`publicDecrypt` without padding); EMSA-PSS-VERIFY (§9.1.2, MGF1 with the same
 *   hash, any salt length: the cloud signs with 32, other signers with the maximum) is written here, as no Node API
 *   verifies PSS over a given digest;
 * - ECDSA P-256 and secp256k1 (KMS EC_P256K): @noble/curves (audited) over the digest, signature as DER
 *   `SEQUENCE { r, s }`.
 * RAW messages go through node:crypto (OpenSSL) instead; the unit tests check that both paths agree.
 */

/** The hashes these verifiers take (the API's DIGEST values are SHA-256). */
export type VerifyHash = 'sha256';

const HASH_LENGTH: Readonly<Record<VerifyHash, number>> = { sha256: 32 };

function toBigInt(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

function jwkInteger(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || value === '') throw new EncodingError(`public key: no ${what}`);
  return toBigInt(Buffer.from(value, 'base64url'));
}

/** The RSA public key's modulus, exponent and size in bits (from its JWK export). */
export function rsaPublicNumbers(key: KeyObject): { n: bigint; e: bigint; bits: number } {
  if (key.asymmetricKeyType !== 'rsa') throw new EncodingError('not an RSA public key');
  const jwk = key.export({ format: 'jwk' });
  const n = jwkInteger(jwk.n, 'modulus');
  return { n, e: jwkInteger(jwk.e, 'exponent'), bits: n.toString(2).length };
}

/**
 * RSAVP1 and I2OSP by OpenSSL: the encoded message EM inside `signature`, `k` octets long, or undefined when the
 * signature has the wrong length or is not smaller than the modulus (RFC 8017 §8.1.2 step 1, §5.2.2 step 1).
 */
function rsaEncodedMessage(key: KeyObject, signature: Buffer): { em: Buffer; bits: number } | undefined {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || bits === undefined) throw new EncodingError('not an RSA public key');
  const k = Math.ceil(bits / 8);
  if (signature.length !== k) return undefined;
  try {
    return { em: publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature), bits };
  } catch {
    return undefined; // s ≥ n
  }
}

/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of a signature over `digest`: OpenSSL does RSAVP1 and the
 * EMSA-PKCS1-v1_5 block check (`publicDecrypt` with PKCS#1 padding: 00 01 FF… (≥ 8) 00, else it throws) and returns
 * T; T must be DigestInfo(hash, digest) exactly (§9.2).
 */
export function rsaPkcs1VerifyDigest(key: KeyObject, hash: VerifyHash, digest: Buffer, signature: Buffer): boolean {
  if (key.asymmetricKeyType !== 'rsa') throw new EncodingError('not an RSA public key');
  if (digest.length !== HASH_LENGTH[hash]) return false;
  // RFC 8017 §8.2.2 step 1: the signature is exactly k octets. OpenSSL's public decrypt also takes a shorter input
  // as the same integer, so a signature whose first octet is 0 would verify with that octet cut off.
  if (signature.length !== Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)) return false;
  let t: Buffer;
  try {
    t = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false; // wrong length, s ≥ n, or not a type-1 block
  }
  return t.equals(digestInfo(hash, digest));
}

/** MGF1 (RFC 8017 B.2.1). */
function mgf1(hash: VerifyHash, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0, produced = 0; produced < length; i++) {
    counter.writeUInt32BE(i, 0);
    const block = createHash(hash).update(seed).update(counter).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * RSASSA-PSS verification (RFC 8017 §8.1.2, EMSA-PSS-VERIFY §9.1.2) of a signature over `digest`, MGF1 with
 * the same hash. `saltLength` 'any' recovers the salt length from the encoded message (what OpenSSL's
 * `RSA_PSS_SALTLEN_AUTO` does); a number insists on it.
 */
export function rsaPssVerifyDigest(
  key: KeyObject,
  hash: VerifyHash,
  digest: Buffer,
  signature: Buffer,
  saltLength: number | 'any' = 'any',
): boolean {
  const hLen = HASH_LENGTH[hash];
  if (digest.length !== hLen) return false;
  const recovered = rsaEncodedMessage(key, signature);
  if (!recovered) return false;
  const emBits = recovered.bits - 1;
  const emLen = Math.ceil(emBits / 8);
  // RSAVP1 gives k octets; when emBits is a multiple of 8 the leading one must be zero (§8.1.2 step 2c).
  const lead = recovered.em.length - emLen;
  if (lead > 0 && recovered.em.subarray(0, lead).some((b) => b !== 0)) return false;
  const em = recovered.em.subarray(lead);
  if (emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 8 * emLen - emBits;
  const topMask = 0xff >> topBits;
  if (((maskedDb[0] ?? 0) & ~topMask & 0xff) !== 0) return false;
  const dbMask = mgf1(hash, h, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] ?? 0) ^ (dbMask[i] ?? 0);
  db[0] = (db[0] ?? 0) & topMask;
  // DB = PS (zeros) ‖ 0x01 ‖ salt.
  let separator = 0;
  while (separator < db.length && db[separator] === 0) separator++;
  if (separator === db.length || db[separator] !== 0x01) return false;
  const salt = db.subarray(separator + 1);
  if (saltLength !== 'any' && salt.length !== saltLength) return false;
  const mPrime = Buffer.concat([Buffer.alloc(8), digest, salt]);
  return createHash(hash).update(mPrime).digest().equals(h);
}

// ---------------------------------------------------------------------------------------------------------------
// ECDSA over a digest (SEC 1 v2 §4.1.4): the curves the API's ECDSA_SHA_256 serves (P-256; secp256k1 for KMS keys).

const ECDSA_CURVES = { prime256v1: p256, secp256k1 } as const;

/** ECDSA verification (SEC 1 v2 §4.1.4) of a DER signature over `digest`, for a P-256 or secp256k1 public key. */
export function ecdsaVerifyDigest(key: KeyObject, digest: Buffer, derSignature: Buffer): boolean {
  if (key.asymmetricKeyType !== 'ec') throw new EncodingError('not an EC public key');
  const curveName = key.asymmetricKeyDetails?.namedCurve ?? '';
  const curve = curveName === 'prime256v1' || curveName === 'secp256k1' ? ECDSA_CURVES[curveName] : undefined;
  if (!curve) {
    throw new EncodingError(`ECDSA: curve ${curveName || '(unknown)'} is not supported for DIGEST verification`);
  }
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new EncodingError('EC public key without a point');
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  try {
    return curve.verify(derSignature, digest, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}
