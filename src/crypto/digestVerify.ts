import { createHash, type KeyObject } from 'node:crypto';
import { digestInfo } from './digestInfo';
import { ecdsaDerToRaw } from './ecdsaSignature';
import { EncodingError } from './encodingError';

/**
 * Signature verification over a DIGEST the caller computed (`MessageType=DIGEST`), with nothing but the public
 * key. node:crypto cannot do this: every `crypto.verify` hashes its input (with `null` as the algorithm it picks
 * the key's default digest, SHA-256, and hashes the digest again), and no Node API runs a bare EVP_PKEY_verify.
 * So the verification primitives are written out here, on public data only (no secret, no timing concern):
 * - RSA: RSAVP1 (RFC 8017 §5.2.2) by BigInt exponentiation, then EMSA-PKCS1-v1_5 (§9.2) or EMSA-PSS-VERIFY
 *   (§9.1.2, MGF1 with the same hash, any salt length: the cloud signs with 32, other signers with the maximum);
 * - ECDSA P-256: SEC 1 v2 §4.1.4 in Jacobian coordinates, signature as DER `SEQUENCE { r, s }`.
 * RAW messages go through node:crypto (OpenSSL) instead; the unit tests check that both paths agree.
 */

/** The hashes these verifiers take (the API's DIGEST values are SHA-256). */
export type VerifyHash = 'sha256';

const HASH_LENGTH: Readonly<Record<VerifyHash, number>> = { sha256: 32 };

function toBigInt(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

/** I2OSP (RFC 8017 §4.1): `value` as exactly `length` big-endian octets. */
function toOctets(value: bigint, length: number): Buffer {
  const hex = value.toString(16).padStart(length * 2, '0');
  if (hex.length > length * 2) throw new EncodingError('integer too large for its octet length');
  return Buffer.from(hex, 'hex');
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
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
 * RSAVP1 and I2OSP: the encoded message EM inside `signature`, `k` octets long, or undefined when the
 * signature has the wrong length or is not smaller than the modulus (RFC 8017 §8.1.2 step 1, §5.2.2 step 1).
 */
function rsaEncodedMessage(key: KeyObject, signature: Buffer): { em: Buffer; bits: number } | undefined {
  const { n, e, bits } = rsaPublicNumbers(key);
  const k = Math.ceil(bits / 8);
  if (signature.length !== k) return undefined;
  const s = toBigInt(signature);
  if (s >= n) return undefined;
  return { em: toOctets(modPow(s, e, n), k), bits };
}

/** RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of a signature over `digest`. */
export function rsaPkcs1VerifyDigest(key: KeyObject, hash: VerifyHash, digest: Buffer, signature: Buffer): boolean {
  if (digest.length !== HASH_LENGTH[hash]) return false;
  const recovered = rsaEncodedMessage(key, signature);
  if (!recovered) return false;
  const { em } = recovered;
  const t = digestInfo(hash, digest);
  if (em.length < t.length + 11) return false;
  // EMSA-PKCS1-v1_5: 0x00 0x01 PS(0xFF…, ≥ 8 octets) 0x00 T — rebuilt and compared whole (§9.2, §8.2.2 step 4).
  const expected = Buffer.alloc(em.length, 0xff);
  expected[0] = 0x00;
  expected[1] = 0x01;
  expected[em.length - t.length - 1] = 0x00;
  t.copy(expected, em.length - t.length);
  return em.equals(expected);
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
// ECDSA over a digest (SEC 1 v2 §4.1.4), P-256 only: the one curve the API's ECDSA_SHA_256 serves.

interface Curve {
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly size: number;
}

/** NIST P-256 (FIPS 186-4 D.1.2.3; SEC 2 secp256r1). */
const P256: Curve = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  size: 32,
};

const CURVES: Readonly<Record<string, Curve>> = { prime256v1: P256 };

/** A point in Jacobian coordinates (x = X/Z², y = Y/Z³); Z = 0 is the point at infinity. */
interface Jacobian {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n };

function mod(v: bigint, m: bigint): bigint {
  const r = v % m;
  return r < 0n ? r + m : r;
}

function double(c: Curve, P: Jacobian): Jacobian {
  if (P.z === 0n || P.y === 0n) return INFINITY;
  const y2 = mod(P.y * P.y, c.p);
  const s = mod(4n * P.x * y2, c.p);
  const z2 = mod(P.z * P.z, c.p);
  const m = mod(3n * P.x * P.x + c.a * z2 * z2, c.p);
  const x3 = mod(m * m - 2n * s, c.p);
  const y3 = mod(m * (s - x3) - 8n * y2 * y2, c.p);
  return { x: x3, y: y3, z: mod(2n * P.y * P.z, c.p) };
}

function add(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P.z === 0n) return Q;
  if (Q.z === 0n) return P;
  const pz2 = mod(P.z * P.z, c.p);
  const qz2 = mod(Q.z * Q.z, c.p);
  const u1 = mod(P.x * qz2, c.p);
  const u2 = mod(Q.x * pz2, c.p);
  const s1 = mod(P.y * qz2 * Q.z, c.p);
  const s2 = mod(Q.y * pz2 * P.z, c.p);
  if (u1 === u2) return s1 === s2 ? double(c, P) : INFINITY;
  const h = mod(u2 - u1, c.p);
  const r = mod(s2 - s1, c.p);
  const h2 = mod(h * h, c.p);
  const h3 = mod(h2 * h, c.p);
  const u1h2 = mod(u1 * h2, c.p);
  const x3 = mod(r * r - h3 - 2n * u1h2, c.p);
  const y3 = mod(r * (u1h2 - x3) - s1 * h3, c.p);
  return { x: x3, y: y3, z: mod(h * P.z * Q.z, c.p) };
}

/** u1·G + u2·Q by one double-and-add pass over both scalars (Shamir's trick). */
function twoScalarMultiply(c: Curve, u1: bigint, G: Jacobian, u2: bigint, Q: Jacobian): Jacobian {
  const GQ = add(c, G, Q);
  let R = INFINITY;
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    R = double(c, R);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(c, R, GQ);
    else if (b1) R = add(c, R, G);
    else if (b2) R = add(c, R, Q);
  }
  return R;
}

/** ECDSA verification (SEC 1 v2 §4.1.4) of a DER signature over `digest`, for a P-256 public key. */
export function ecdsaVerifyDigest(key: KeyObject, digest: Buffer, derSignature: Buffer): boolean {
  if (key.asymmetricKeyType !== 'ec') throw new EncodingError('not an EC public key');
  const curveName = key.asymmetricKeyDetails?.namedCurve ?? '';
  const c = CURVES[curveName];
  if (!c) throw new EncodingError(`ECDSA: curve ${curveName || '(unknown)'} is not supported for DIGEST verification`);
  let raw: Buffer;
  try {
    raw = ecdsaDerToRaw(derSignature, c.size);
  } catch {
    return false;
  }
  const r = toBigInt(raw.subarray(0, c.size));
  const s = toBigInt(raw.subarray(c.size));
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  // e = the leftmost bitlen(n) bits of the digest (§4.1.4 step 3; a no-op for a 32-byte digest on P-256).
  const nBits = c.n.toString(2).length;
  let e = toBigInt(digest);
  if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
  const jwk = key.export({ format: 'jwk' });
  // node:crypto validated the point when the key was loaded (it is on the curve and not infinity).
  const Q: Jacobian = { x: jwkInteger(jwk.x, 'x'), y: jwkInteger(jwk.y, 'y'), z: 1n };
  const w = modPow(s, c.n - 2n, c.n); // n is prime: s^(n-2) = s^-1 (mod n)
  const u1 = mod(e * w, c.n);
  const u2 = mod(r * w, c.n);
  const R = twoScalarMultiply(c, u1, { x: c.gx, y: c.gy, z: 1n }, u2, Q);
  if (R.z === 0n) return false;
  const zInv = modPow(R.z, c.p - 2n, c.p);
  const x = mod(R.x * zInv * zInv, c.p);
  return mod(x, c.n) === r;
}
