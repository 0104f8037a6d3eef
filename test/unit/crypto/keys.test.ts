import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { EncodingError } from '../../../src/crypto/encodingError';
import {
  curveOfParams,
  ecParamsFor,
  ecSpki,
  publicKeyFromSpki,
  rsaSpki,
  spkiEquals,
  type CurveName,
} from '../../../src/crypto/keys';
import { opensslDir } from './support/openssl';

const b64url = (value: string | undefined): Buffer => Buffer.from(value ?? '', 'base64url');
const spkiOf = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });

/** The uncompressed SEC 1 point of an EC public key, as a token's CKA_EC_POINT holds it (unwrapped). */
function barePoint(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), b64url(jwk.x), b64url(jwk.y)]);
}

/** The DER OCTET STRING wrapping that SoftHSM2 returns for CKA_EC_POINT. */
function wrapped(point: Buffer): Buffer {
  const length = point.length < 0x80 ? Buffer.from([point.length]) : Buffer.from([0x81, point.length]);
  return Buffer.concat([Buffer.from([0x04]), length, point]);
}

describe('rsaSpki', () => {
  it.each([2048, 3072])('equals node’s SPKI for an RSA-%i key built from its JWK modulus and exponent', (bits) => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const jwk = publicKey.export({ format: 'jwk' });
    expect(rsaSpki(b64url(jwk.n), b64url(jwk.e)).equals(spkiOf(publicKey))).toBe(true);
  });

  it('ignores leading zero octets in CKA_MODULUS and CKA_PUBLIC_EXPONENT', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const padded = rsaSpki(Buffer.concat([Buffer.alloc(2), b64url(jwk.n)]), Buffer.from('00010001', 'hex'));
    expect(padded.equals(spkiOf(publicKey))).toBe(true);
  });

  it('rejects an empty modulus or a zero exponent', () => {
    expect(() => rsaSpki(Buffer.alloc(0), Buffer.from([1, 0, 1]))).toThrow(EncodingError);
    expect(() => rsaSpki(Buffer.alloc(256, 0xc1), Buffer.from([0]))).toThrow(EncodingError);
  });
});

describe('ecSpki', () => {
  it.each<CurveName>(['P-256', 'P-384'])('equals node’s SPKI for %s from the bare and the wrapped point', (curve) => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const point = barePoint(publicKey);
    expect(ecSpki(ecParamsFor(curve), point).equals(spkiOf(publicKey))).toBe(true);
    expect(ecSpki(ecParamsFor(curve), wrapped(point)).equals(spkiOf(publicKey))).toBe(true);
  });

  it('equals OpenSSL’s SPKI for an SM2 key (id-ecPublicKey with the sm2p256v1 curve)', () => {
    const dir = opensslDir();
    try {
      expect(dir.run(['ecparam', '-name', 'SM2', '-genkey', '-noout', '-out', 'sm2.pem']).status).toBe(0);
      expect(dir.run(['pkey', '-in', 'sm2.pem', '-pubout', '-outform', 'DER', '-out', 'sm2.der']).status).toBe(0);
      const spki = dir.read('sm2.der');
      const point = spki.subarray(-65);
      expect(ecSpki(ecParamsFor('SM2'), wrapped(point)).equals(spki)).toBe(true);
      expect(ecSpki(ecParamsFor('SM2'), point).equals(spki)).toBe(true);
    } finally {
      dir.remove();
    }
  });

  it('accepts a compressed point, and spkiEquals matches it with the uncompressed form', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const point = barePoint(publicKey);
    const compressed = Buffer.concat([Buffer.from([2 + ((point[64] ?? 0) & 1)]), point.subarray(1, 33)]);
    const spki = ecSpki(ecParamsFor('P-256'), wrapped(compressed));
    expect(spki.equals(spkiOf(publicKey))).toBe(false);
    expect(spkiEquals(spki, spkiOf(publicKey))).toBe(true);
  });

  it('tells a bare point from a wrapped one by length even when the bare point starts like a DER header', () => {
    // A bare 65-byte point whose X begins 0x3f 0x04 reads as `04 3f 04 …`: a plausible OCTET STRING header.
    const point = Buffer.concat([Buffer.from([4, 0x3f, 0x04]), Buffer.alloc(62, 1)]);
    const spki = ecSpki(ecParamsFor('P-256'), point);
    expect(spki.subarray(-65).equals(point)).toBe(true);
  });

  it.each([
    ['a point of the wrong length', Buffer.alloc(64, 4)],
    ['a P-384-sized point on P-256', Buffer.concat([Buffer.from([4]), Buffer.alloc(96, 1)])],
    [
      'an OCTET STRING whose length disagrees with its content',
      Buffer.concat([Buffer.from([4, 0x42, 4]), Buffer.alloc(64, 1)]),
    ],
    ['an unknown point form', Buffer.concat([Buffer.from([5]), Buffer.alloc(64, 1)])],
    ['an empty buffer', Buffer.alloc(0)],
  ])('rejects %s', (_name, point) => {
    expect(() => ecSpki(ecParamsFor('P-256'), point)).toThrow(EncodingError);
  });

  it('rejects curves other than P-256, P-384 and SM2', () => {
    const p521 = Buffer.from('06052b81040023', 'hex');
    expect(() => ecSpki(p521, Buffer.concat([Buffer.from([4]), Buffer.alloc(132, 1)]))).toThrow(EncodingError);
  });
});

describe('curve parameters', () => {
  it.each<[CurveName, string]>([
    ['P-256', '06082a8648ce3d030107'],
    ['P-384', '06052b81040022'],
    ['SM2', '06082a811ccf5501822d'],
  ])('encodes %s as the DER OID %s and reads it back', (curve, der) => {
    expect(ecParamsFor(curve).toString('hex')).toBe(der);
    expect(curveOfParams(Buffer.from(der, 'hex'))).toBe(curve);
  });

  it.each([
    ['P-521', '06052b81040023'],
    ['implicitCA (NULL)', '0500'],
    ['an empty buffer', ''],
    ['P-256 with a trailing byte', '06082a8648ce3d03010700'],
  ])('returns undefined for %s', (_name, der) => {
    expect(curveOfParams(Buffer.from(der, 'hex'))).toBeUndefined();
  });
});

describe('publicKeyFromSpki / spkiEquals', () => {
  it('loads an SPKI built from token attributes as a node KeyObject', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = publicKeyFromSpki(ecSpki(ecParamsFor('P-256'), barePoint(publicKey)));
    expect(key.equals(publicKey)).toBe(true);
  });

  it('rejects a point that is not on the curve', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const point = barePoint(publicKey);
    point[64] = (point[64] ?? 0) ^ 1;
    expect(() => publicKeyFromSpki(ecSpki(ecParamsFor('P-256'), point))).toThrow(EncodingError);
  });

  it('says two different keys are not equal and identical bytes are', () => {
    const a = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const b = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    expect(spkiEquals(a, b)).toBe(false);
    expect(spkiEquals(a, Buffer.from(a))).toBe(true);
  });

  it('throws on bytes that are not an SPKI', () => {
    expect(() => spkiEquals(Buffer.from('3000', 'hex'), Buffer.from('3001', 'hex'))).toThrow(EncodingError);
  });
});
