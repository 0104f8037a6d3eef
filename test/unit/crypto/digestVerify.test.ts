import { constants, createHash, generateKeyPairSync, privateEncrypt, randomBytes, sign } from 'node:crypto';
import { ecdsaVerifyDigest, rsaPkcs1VerifyDigest, rsaPssVerifyDigest } from '../../../src/crypto/digestVerify';
import { digestInfo } from '../../../src/crypto/digestInfo';
import { ecdsaRawToDer } from '../../../src/crypto/ecdsaSignature';
import { opensslDir } from './support/openssl';

/**
 * The DIGEST verifiers are checked against node:crypto/OpenSSL signatures: what OpenSSL signs over a message
 * verifies here over that message's SHA-256, and any change to digest or signature fails.
 */
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

function flip(b: Buffer, index = b.length - 1): Buffer {
  const c = Buffer.from(b);
  c[index] = (c[index] ?? 0) ^ 0x01;
  return c;
}

describe('rsaPkcs1VerifyDigest', () => {
  it('accepts OpenSSL PKCS#1 v1.5 signatures over the message, given its SHA-256', () => {
    for (let i = 0; i < 20; i++) {
      const msg = randomBytes(i * 13);
      const sig = sign('sha256', msg, rsa.privateKey);
      expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), sig)).toBe(true);
    }
  });

  it('rejects a changed digest, a changed signature, a short signature and one not below the modulus', () => {
    const msg = Buffer.from('p11bridge');
    const sig = sign('sha256', msg, rsa.privateKey);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', flip(sha256(msg)), sig)).toBe(false);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), flip(sig))).toBe(false);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), sig.subarray(1))).toBe(false);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), Buffer.alloc(256, 0xff))).toBe(false);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg).subarray(1), sig)).toBe(false);
  });

  it('rejects a signature shorter than the modulus even when it is the same integer (leading zero octet cut)', () => {
    // About one signature in 256 starts with a zero octet: look for one, so the case is tested every run.
    let msg = Buffer.alloc(0);
    let sig = Buffer.alloc(0);
    for (let i = 0; i < 4096 && sig[0] !== 0; i++) {
      msg = Buffer.from(`p11bridge ${i}`);
      sig = sign('sha256', msg, rsa.privateKey);
    }
    expect(sig[0]).toBe(0);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), sig)).toBe(true);
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), sig.subarray(1))).toBe(false);
  });

  it('rejects a PSS signature', () => {
    const msg = Buffer.from('p11bridge');
    const sig = sign('sha256', msg, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING });
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', sha256(msg), sig)).toBe(false);
  });

  it('rejects a type-1 block around the bare digest, or a padding string with a byte other than FF (RFC 8017 §9.2)', () => {
    const digest = sha256(Buffer.from('p11bridge'));
    const raw = (em: Buffer): Buffer => privateEncrypt({ key: rsa.privateKey, padding: constants.RSA_NO_PADDING }, em);
    const block = (ps: number, t: Buffer): Buffer =>
      Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(ps, 0xff), Buffer.from([0]), t]);
    const t = digestInfo('sha256', digest);
    // The well-formed block verifies (the rebuilt encoding, signed by the raw private-key operation) …
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', digest, raw(block(256 - 3 - t.length, t)))).toBe(true);
    // … the digest without its DigestInfo does not, nor a padding string with one byte that is not FF.
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', digest, raw(block(256 - 3 - 32, digest)))).toBe(false);
    const badPs = block(256 - 3 - t.length, t);
    badPs[10] = 0xfe;
    expect(rsaPkcs1VerifyDigest(rsa.publicKey, 'sha256', digest, raw(badPs))).toBe(false);
  });
});

describe('rsaPssVerifyDigest', () => {
  const pss = (msg: Buffer, saltLength: number): Buffer =>
    sign('sha256', msg, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });

  it.each([
    ['32 (the cloud, protocol §9.5)', 32],
    ['0', 0],
    ['the maximum (222 for RSA-2048 with SHA-256)', constants.RSA_PSS_SALTLEN_MAX_SIGN],
  ])('accepts salt length %s with saltLength any', (_name, saltLength) => {
    for (let i = 0; i < 10; i++) {
      const msg = randomBytes(40 + i);
      expect(rsaPssVerifyDigest(rsa.publicKey, 'sha256', sha256(msg), pss(msg, saltLength))).toBe(true);
    }
  });

  it('insists on a given salt length', () => {
    const msg = Buffer.from('p11bridge');
    expect(rsaPssVerifyDigest(rsa.publicKey, 'sha256', sha256(msg), pss(msg, 32), 32)).toBe(true);
    expect(rsaPssVerifyDigest(rsa.publicKey, 'sha256', sha256(msg), pss(msg, 20), 32)).toBe(false);
  });

  it('rejects a changed digest or signature, and a PKCS#1 v1.5 signature', () => {
    const msg = Buffer.from('p11bridge');
    const sig = pss(msg, 32);
    expect(rsaPssVerifyDigest(rsa.publicKey, 'sha256', flip(sha256(msg), 0), sig)).toBe(false);
    expect(rsaPssVerifyDigest(rsa.publicKey, 'sha256', sha256(msg), flip(sig, 7))).toBe(false);
    expect(rsaPssVerifyDigest(rsa.publicKey, 'sha256', sha256(msg), sign('sha256', msg, rsa.privateKey))).toBe(false);
  });

  it('handles a modulus whose bit length is 1 mod 8 (emLen < k)', () => {
    const odd = generateKeyPairSync('rsa', { modulusLength: 2049 });
    const msg = Buffer.from('odd modulus');
    const sig = sign('sha256', msg, { key: odd.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    expect(rsaPssVerifyDigest(odd.publicKey, 'sha256', sha256(msg), sig)).toBe(true);
    expect(rsaPssVerifyDigest(odd.publicKey, 'sha256', flip(sha256(msg)), sig)).toBe(false);
  });
});

describe('ecdsaVerifyDigest (P-256)', () => {
  it('accepts OpenSSL signatures over the message, given its SHA-256, and rejects them over another digest (100 cases)', () => {
    for (let i = 0; i < 100; i++) {
      const msg = randomBytes(1 + i);
      const sig = sign('sha256', msg, ec.privateKey);
      expect(ecdsaVerifyDigest(ec.publicKey, sha256(msg), sig)).toBe(true);
      const wrong = randomBytes(32);
      expect(ecdsaVerifyDigest(ec.publicKey, wrong, sig)).toBe(false);
    }
  });

  it('accepts signatures made over a bare digest by the token path (raw r‖s → DER)', () => {
    const digest = sha256(Buffer.from('token path'));
    const raw = sign('sha256', Buffer.from('token path'), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(ecdsaVerifyDigest(ec.publicKey, digest, ecdsaRawToDer(raw))).toBe(true);
  });

  it('rejects a changed signature, raw r‖s, trailing bytes, r or s out of range, and another key', () => {
    const msg = Buffer.from('p11bridge');
    const digest = sha256(msg);
    const sig = sign('sha256', msg, ec.privateKey);
    const raw = sign('sha256', msg, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(ecdsaVerifyDigest(ec.publicKey, digest, flip(sig))).toBe(false);
    expect(ecdsaVerifyDigest(ec.publicKey, digest, raw)).toBe(false);
    expect(ecdsaVerifyDigest(ec.publicKey, digest, Buffer.concat([sig, Buffer.from([0])]))).toBe(false);
    expect(ecdsaVerifyDigest(ec.publicKey, digest, ecdsaRawToDer(Buffer.alloc(64)))).toBe(false);
    expect(ecdsaVerifyDigest(ec.publicKey, digest, ecdsaRawToDer(Buffer.alloc(64, 0xff)))).toBe(false);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(ecdsaVerifyDigest(other.publicKey, digest, sig)).toBe(false);
  });

  it('accepts a signature openssl pkeyutl -sign made over the digest', () => {
    const dir = opensslDir();
    try {
      const msg = Buffer.from('openssl cross-check');
      const digest = sha256(msg);
      dir.write('pub.pem', ec.publicKey.export({ type: 'spki', format: 'pem' }));
      dir.write('key.pem', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      dir.write('digest.bin', digest);
      const r = dir.run(['pkeyutl', '-sign', '-inkey', 'key.pem', '-in', 'digest.bin', '-out', 'sig.der']);
      expect(r.status).toBe(0);
      expect(ecdsaVerifyDigest(ec.publicKey, digest, dir.read('sig.der'))).toBe(true);
    } finally {
      dir.remove();
    }
  });

  it('refuses a curve it does not implement', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(() => ecdsaVerifyDigest(p384.publicKey, Buffer.alloc(32), Buffer.alloc(8))).toThrow(/not supported/);
  });
});
