import { createHash, randomBytes } from 'node:crypto';
import { weierstrassN, type WeierstrassOpts, type WeierstrassPoint } from '@noble/curves/abstract/weierstrass';
import { readTlv } from './der';
import { ecdsaDerToRaw } from './ecdsaSignature';
import { EncodingError } from './encodingError';
import { curveOfParams } from './keys';
import { encodeSm2Ciphertext, type Sm2Ciphertext } from './sm2Ciphertext';

/**
 * The SM2 arithmetic that runs outside the key (GB/T 32918.2-2016 and .4-2016 on the sm2p256v1 curve of
 * GB/T 32918.5-2017): Z_A, the signed value e, signature verification, and public-key encryption. Only the
 * private-key step (signing e, decrypting) runs in the token. Point arithmetic is @noble/curves' audited
 * Weierstrass implementation; SM3 is OpenSSL's (node:crypto).
 */

/** The distinguishing ID every SM2 signer uses unless agreed otherwise (GM/T 0009-2012 §10; Alibaba's SDKs). */
export const SM2_DEFAULT_USER_ID = '1234567812345678';

/** sm2p256v1 (GB/T 32918.5-2017 §2). */
const CURVE: WeierstrassOpts<bigint> = {
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  h: 1n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
};

const Point = weierstrassN(CURVE);
type Point = WeierstrassPoint<bigint>;

const SIZE = 32;

function bytes32(v: bigint): Buffer {
  return Buffer.from(v.toString(16).padStart(2 * SIZE, '0'), 'hex');
}

function toBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

function mod(v: bigint, m: bigint): bigint {
  const r = v % m;
  return r < 0n ? r + m : r;
}

function sm3(...parts: Uint8Array[]): Buffer {
  const h = createHash('sm3');
  for (const p of parts) h.update(p);
  return h.digest();
}

function pointOf(sec1: Uint8Array): Point {
  let p: Point;
  try {
    p = Point.fromBytes(sec1);
    p.assertValidity();
  } catch (cause) {
    throw new EncodingError('SM2: not a point of the sm2p256v1 curve', { cause });
  }
  return p;
}

/**
 * An SM2 public key as the uncompressed SEC 1 point `04 ‖ x ‖ y` (65 bytes), from an uncompressed or
 * compressed point. Throws `EncodingError` unless it is a valid point of sm2p256v1 other than infinity.
 */
export function sm2PublicPoint(sec1: Uint8Array): Buffer {
  return Buffer.from(pointOf(sec1).toBytes(false));
}

/** DER of the id-ecPublicKey OID (RFC 5480 §2.1.1), the algorithm of SM2 SPKIs as OpenSSL 3 writes them. */
const ID_EC_PUBLIC_KEY_DER = Buffer.from('06072a8648ce3d0201', 'hex');

/**
 * The SM2 public point of a SubjectPublicKeyInfo (id-ecPublicKey with the sm2p256v1 curve). Read with the strict
 * TLV reader rather than asn1-schema: it runs on every SM2 signature (Z_A needs the point), and a full parse costs
 * about 250 µs where this costs a tenth of that, most of it checking the point.
 */
export function sm2PublicPointOfSpki(spki: Buffer): Buffer {
  let point: Buffer | undefined;
  try {
    const outer = readTlv(spki, 0);
    const algorithm = readTlv(spki, outer.contentStart);
    const oid = readTlv(spki, algorithm.contentStart);
    const bits = readTlv(spki, algorithm.end);
    const ok =
      outer.tag === 0x30 &&
      outer.end === spki.length &&
      algorithm.tag === 0x30 &&
      spki.subarray(algorithm.contentStart, oid.end).equals(ID_EC_PUBLIC_KEY_DER) &&
      curveOfParams(spki.subarray(oid.end, algorithm.end)) === 'SM2' &&
      bits.tag === 0x03 &&
      bits.end === outer.end &&
      spki[bits.contentStart] === 0;
    if (ok) point = spki.subarray(bits.contentStart + 1, bits.end);
  } catch {
    // Not DER: refused below like any other SPKI that is not SM2.
  }
  if (!point) throw new EncodingError('SPKI: not an SM2 public key');
  return sm2PublicPoint(point);
}

/** The distinguishing ID as bytes; ENTL is its length in bits on 16 bits (GB/T 32918.2 §5.5), so at most 8191 bytes. */
function idBytes(userId: string | Uint8Array): Buffer {
  const id = typeof userId === 'string' ? Buffer.from(userId, 'utf8') : Buffer.from(userId);
  if (id.length * 8 > 0xffff) throw new EncodingError('SM2: the user ID is longer than 8191 bytes');
  return id;
}

/**
 * Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2-2016 §5.5), for the signer's public
 * point and distinguishing ID (default `1234567812345678`).
 */
export function sm2Za(publicPoint: Uint8Array, userId: string | Uint8Array = SM2_DEFAULT_USER_ID): Buffer {
  const p = pointOf(publicPoint);
  const id = idBytes(userId);
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(id.length * 8, 0);
  return sm3(
    entl,
    id,
    bytes32(CURVE.a),
    bytes32(CURVE.b),
    bytes32(CURVE.Gx),
    bytes32(CURVE.Gy),
    bytes32(p.x),
    bytes32(p.y),
  );
}

/**
 * e = SM3(Z_A ‖ M) (GB/T 32918.2-2016 §6.1 steps A1–A2): what the token signs. A KMS `MessageType=DIGEST`
 * request for SM2 carries exactly this value (protocol §9.4).
 */
export function sm2E(
  publicPoint: Uint8Array,
  message: Uint8Array,
  userId: string | Uint8Array = SM2_DEFAULT_USER_ID,
): Buffer {
  return sm3(sm2Za(publicPoint, userId), message);
}

/**
 * SM2 verification (GB/T 32918.2-2016 §7.1 steps B1 and B4–B7) of a DER `SEQUENCE { r, s }` signature over e.
 * A signature that is not strict DER, or whose r or s is out of range, is simply not valid: false.
 */
export function sm2VerifyE(publicPoint: Uint8Array, e: Uint8Array, derSignature: Uint8Array): boolean {
  const P = pointOf(publicPoint);
  if (e.length !== SIZE) throw new EncodingError(`SM2: e must be ${SIZE} bytes`);
  let raw: Buffer;
  try {
    raw = ecdsaDerToRaw(Buffer.from(derSignature), SIZE);
  } catch {
    return false;
  }
  const r = toBigInt(raw.subarray(0, SIZE));
  const s = toBigInt(raw.subarray(SIZE));
  if (r < 1n || r >= CURVE.n || s < 1n || s >= CURVE.n) return false;
  const t = mod(r + s, CURVE.n);
  if (t === 0n) return false;
  // Public values only (a verification): the variable-time multiplications are fine here.
  const sum = Point.BASE.multiplyUnsafe(s).add(P.multiplyUnsafe(t));
  if (sum.is0()) return false;
  return mod(toBigInt(e) + sum.x, CURVE.n) === r;
}

/** SM2 verification of a signature over the message `message` signed with `userId` (computes e, then `sm2VerifyE`). */
export function sm2Verify(
  publicPoint: Uint8Array,
  message: Uint8Array,
  derSignature: Uint8Array,
  userId: string | Uint8Array = SM2_DEFAULT_USER_ID,
): boolean {
  return sm2VerifyE(publicPoint, sm2E(publicPoint, message, userId), derSignature);
}

/** KDF(Z, klen) of GB/T 32918.4-2016 §5.4.3: SM3(Z ‖ ct) for ct = 1, 2, …, truncated to `length` bytes. */
function kdf(z: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let ct = 1, produced = 0; produced < length; ct++) {
    counter.writeUInt32BE(ct, 0);
    const block = sm3(z, counter);
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** A scalar k in [1, n − 1] by rejection sampling. */
function randomScalar(random: (size: number) => Buffer): bigint {
  for (;;) {
    const k = toBigInt(random(SIZE));
    if (k >= 1n && k < CURVE.n) return k;
  }
}

/**
 * SM2 public-key encryption (GB/T 32918.4-2016 §6.1) to `publicPoint`, returning its parts (C1 uncompressed,
 * C3, C2); `encodeSm2Ciphertext` gives the wire form. The ephemeral k is multiplied in constant time.
 * `random` is injectable for tests (it must return `size` uniformly random bytes).
 */
export function sm2EncryptParts(
  publicPoint: Uint8Array,
  plaintext: Uint8Array,
  random: (size: number) => Buffer = randomBytes,
): Sm2Ciphertext {
  if (plaintext.length === 0) throw new EncodingError('SM2: nothing to encrypt');
  const P = pointOf(publicPoint);
  for (;;) {
    const k = randomScalar(random);
    const c1 = Point.BASE.multiply(k);
    const shared = P.multiply(k); // h = 1 for sm2p256v1, so S = [h]P_B is P_B itself: valid (step A3)
    const x2 = bytes32(shared.x);
    const y2 = bytes32(shared.y);
    const t = kdf(Buffer.concat([x2, y2]), plaintext.length);
    if (t.every((byte) => byte === 0)) continue; // step A5: t all zero ⇒ pick another k
    const c2 = Buffer.alloc(plaintext.length);
    for (let i = 0; i < c2.length; i++) c2[i] = (plaintext[i] ?? 0) ^ (t[i] ?? 0);
    return { c1: Buffer.from(c1.toBytes(false)), c3: sm3(x2, plaintext, y2), c2 };
  }
}

/** SM2 encryption to `publicPoint` as GM/T 0009-2012 ASN.1 `SEQUENCE { x, y, hash, ciphertext }` (DER). */
export function sm2Encrypt(
  publicPoint: Uint8Array,
  plaintext: Uint8Array,
  random: (size: number) => Buffer = randomBytes,
): Buffer {
  return encodeSm2Ciphertext(sm2EncryptParts(publicPoint, plaintext, random), 'gmt0009');
}
