import type { KeyObject } from 'node:crypto';

/** An RSA public key as big integers (from the key's JWK export). */
export interface RsaPublicNumbers {
  readonly n: bigint;
  readonly e: bigint;
  /** The modulus length in bytes (k of RFC 8017). */
  readonly k: number;
}

function bigintOf(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

function bytesOf(x: bigint, k: number): Buffer {
  return Buffer.from(x.toString(16).padStart(k * 2, '0'), 'hex');
}

/** n, e and k of an RSA public key; undefined for any other key type. */
export function rsaPublicNumbers(key: KeyObject): RsaPublicNumbers | undefined {
  if (key.asymmetricKeyType !== 'rsa') return undefined;
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return undefined;
  const n = Buffer.from(jwk.n, 'base64url');
  return { n: bigintOf(n), e: bigintOf(Buffer.from(jwk.e, 'base64url')), k: n.length };
}

/**
 * The input of a raw RSA private-key operation (RFC 9474 §4.3 BlindSign step 1, RSASP1's range check of RFC 8017
 * §5.2.1): the message as the k-byte big-endian integer m, or undefined when m is not in [0, n-1] or the message is
 * longer than k bytes. A shorter message is left-padded: as an integer it is the same m.
 */
export function rawRsaInput(pub: RsaPublicNumbers, message: Buffer): Buffer | undefined {
  if (message.length > pub.k) return undefined;
  const m = bigintOf(message);
  return m < pub.n ? bytesOf(m, pub.k) : undefined;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/**
 * True when s is the raw RSA signature of m: s^e mod n = m (RFC 9474 §4.3 BlindSign step 3, RSAVP1). Checked before
 * a blind signature leaves the daemon: a faulty RSA-CRT result would otherwise reveal the private key (the
 * Boneh–DeMillo–Lipton fault attack), and the caller cannot check it (it cannot see m's meaning).
 */
export function rawRsaVerifies(pub: RsaPublicNumbers, m: Buffer, s: Buffer): boolean {
  const sig = bigintOf(s);
  return s.length === pub.k && sig < pub.n && modPow(sig, pub.e, pub.n) === bigintOf(m);
}
