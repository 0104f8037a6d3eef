import { sm2 as smCrypto } from 'sm-crypto';
import { ecdsaRawToDer } from '../../../src/crypto/ecdsaSignature';
import { EncodingError } from '../../../src/crypto/encodingError';
import { ecParamsFor, ecSpki } from '../../../src/crypto/keys';
import {
  SM2_DEFAULT_USER_ID,
  sm2E,
  sm2Encrypt,
  sm2EncryptParts,
  sm2PublicPoint,
  sm2PublicPointOfSpki,
  sm2Verify,
  sm2VerifyE,
  sm2Za,
} from '../../../src/crypto/sm2';
import { decodeSm2Ciphertext, encodeSm2Ciphertext, type Sm2CiphertextFormat } from '../../../src/crypto/sm2Ciphertext';
import { opensslDir } from './support/openssl';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * GB/T 32918.2-2016 Appendix A.2 (signature on the recommended curve sm2p256v1): signer ALICE123@YAHOO.COM,
 * message "message digest". The same values are used by independent implementations (for example the Rust
 * `gm-sm2` tests and gmssl-based suites) that cite the appendix.
 */
const A2 = {
  id: 'ALICE123@YAHOO.COM',
  message: Buffer.from('message digest'),
  d: '3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8',
  point: hex(
    '04 09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020' +
      'CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13',
  ),
  za: hex('26DB4BC1839BD22E97E1DAB667EC5E0A730D5E16521398B4435C576A93AFD7ED'),
  e: hex('ABF7EB631D94615FD1A941D40E99932DDB1899E1DFAE7179B4A79417EA3743E5'),
  r: hex('88348A09A3E324C4FE946843123E40C175468F3E36481885844A144D2167EA4C'),
  s: hex('0AD2CE552FD33EAB792E5A2805E0504D014C96135F8E03891087132ABB24D48D'),
};

/** DER SEQUENCE { r, s } (r above has its high bit set: 0x00 is prepended). */
const derSignature = (r: Buffer, s: Buffer): Buffer => ecdsaRawToDer(Buffer.concat([r, s]));

describe('Z_A and e (GB/T 32918.2-2016 §5.5, §6.1) against Appendix A.2', () => {
  it('computes Z_A for ID ALICE123@YAHOO.COM (ENTL 0x0090)', () => {
    expect(sm2Za(A2.point, A2.id).equals(A2.za)).toBe(true);
  });

  it('computes e = SM3(Z_A ‖ "message digest")', () => {
    expect(sm2E(A2.point, A2.message, A2.id).equals(A2.e)).toBe(true);
  });

  it('accepts the appendix signature (r, s) over e, and over the message with that ID only', () => {
    const sig = derSignature(A2.r, A2.s);
    expect(sm2VerifyE(A2.point, A2.e, sig)).toBe(true);
    expect(sm2Verify(A2.point, A2.message, sig, A2.id)).toBe(true);
    expect(sm2Verify(A2.point, A2.message, sig)).toBe(false); // the default ID gives another Z_A
  });

  it('rejects the appendix signature when e, r or s changes, and when it is not strict DER', () => {
    const flip = (b: Buffer, i: number): Buffer => {
      const c = Buffer.from(b);
      c[i] = (c[i] ?? 0) ^ 1;
      return c;
    };
    expect(sm2VerifyE(A2.point, flip(A2.e, 31), derSignature(A2.r, A2.s))).toBe(false);
    expect(sm2VerifyE(A2.point, A2.e, derSignature(flip(A2.r, 0), A2.s))).toBe(false);
    expect(sm2VerifyE(A2.point, A2.e, derSignature(A2.r, flip(A2.s, 31)))).toBe(false);
    expect(sm2VerifyE(A2.point, A2.e, Buffer.concat([A2.r, A2.s]))).toBe(false); // raw r‖s is not DER
    expect(sm2VerifyE(A2.point, A2.e, Buffer.concat([derSignature(A2.r, A2.s), hex('00')]))).toBe(false);
  });

  it('uses the default ID 1234567812345678 (ENTL 0x0080) when none is given', () => {
    expect(SM2_DEFAULT_USER_ID).toBe('1234567812345678');
    expect(sm2Za(A2.point).equals(sm2Za(A2.point, '1234567812345678'))).toBe(true);
    expect(sm2Za(A2.point).equals(A2.za)).toBe(false);
  });

  it('refuses a point that is not on sm2p256v1, and an ID whose bit length does not fit ENTL', () => {
    const off = Buffer.from(A2.point);
    off[64] = (off[64] ?? 0) ^ 1;
    expect(() => sm2Za(off)).toThrow(EncodingError);
    expect(() => sm2Za(A2.point, Buffer.alloc(8192))).toThrow(/8191/);
    expect(() => sm2Za(A2.point, Buffer.alloc(8191))).not.toThrow();
  });
});

describe('SM2 public keys', () => {
  it('decompresses a compressed point and reads the point of an SM2 SPKI (OpenSSL’s encoding)', () => {
    const compressed = Buffer.concat([Buffer.from([0x02 | ((A2.point[64] ?? 0) & 1)]), A2.point.subarray(1, 33)]);
    expect(sm2PublicPoint(compressed).equals(A2.point)).toBe(true);
    expect(sm2PublicPointOfSpki(ecSpki(ecParamsFor('SM2'), A2.point)).equals(A2.point)).toBe(true);
    expect(() => sm2PublicPointOfSpki(ecSpki(ecParamsFor('P-256'), hex(`04${'11'.repeat(64)}`)))).toThrow(/not an SM2/);
  });
});

describe('interoperability with sm-crypto (an independent SM2 implementation)', () => {
  const keys = smCrypto.generateKeyPairHex();
  const point = Buffer.from(keys.publicKey, 'hex');
  const message = Buffer.from('interoperability with another implementation');

  it('verifies sm-crypto’s signatures made with the default ID, over the message and over its e', () => {
    const sig = Buffer.from(smCrypto.doSignature([...message], keys.privateKey, { der: true, hash: true }), 'hex');
    expect(sm2Verify(point, message, sig)).toBe(true);
    expect(sm2VerifyE(point, sm2E(point, message), sig)).toBe(true);
    expect(sm2Verify(point, message, sig, 'another-id')).toBe(false);
  });

  it('verifies sm-crypto’s signatures made with another ID only with that ID', () => {
    const sig = Buffer.from(
      smCrypto.doSignature([...message], keys.privateKey, { der: true, hash: true, userId: A2.id }),
      'hex',
    );
    expect(sm2Verify(point, message, sig, A2.id)).toBe(true);
    expect(sm2Verify(point, message, sig)).toBe(false);
  });

  it('encrypts what sm-crypto decrypts (C1‖C3‖C2 and C1‖C2‖C3), for 1 to 6047 bytes', () => {
    for (const size of [1, 31, 32, 33, 1000, 6047]) {
      const plaintext = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff));
      const parts = sm2EncryptParts(point, plaintext);
      for (const [format, mode] of [
        ['c1c3c2', 1],
        ['c1c2c3', 0],
      ] as const) {
        // sm-crypto takes the ciphertext without C1's 04 prefix.
        const ct = encodeSm2Ciphertext(parts, format).subarray(1).toString('hex');
        expect(Buffer.from(smCrypto.doDecrypt(ct, keys.privateKey, mode, { output: 'array' })).equals(plaintext)).toBe(
          true,
        );
      }
    }
  });
});

describe('SM2 ciphertext encodings (GM/T 0009 ASN.1, C1‖C3‖C2, C1‖C2‖C3)', () => {
  const parts = sm2EncryptParts(A2.point, Buffer.from('round trip'));
  const formats: Sm2CiphertextFormat[] = ['gmt0009', 'c1c3c2', 'c1c2c3'];

  it.each(formats)('%s decodes to the same parts it was encoded from', (format) => {
    const back = decodeSm2Ciphertext(encodeSm2Ciphertext(parts, format), format);
    expect(back.c1.equals(parts.c1) && back.c3.equals(parts.c3) && back.c2.equals(parts.c2)).toBe(true);
  });

  it('writes GM/T 0009 as DER: non-negative minimal INTEGERs, then two OCTET STRINGs', () => {
    const der = sm2Encrypt(A2.point, Buffer.alloc(300, 1));
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(0x82); // 300 bytes of C2 need the two-octet length form
    const back = decodeSm2Ciphertext(der, 'gmt0009');
    expect(encodeSm2Ciphertext(back, 'gmt0009').equals(der)).toBe(true);
  });

  it('reads the ciphertext OpenSSL writes (openssl pkeyutl -encrypt with an SM2 key)', () => {
    const dir = opensslDir();
    try {
      expect(dir.run(['genpkey', '-algorithm', 'SM2', '-out', 'k.pem']).status).toBe(0);
      expect(dir.run(['pkey', '-in', 'k.pem', '-pubout', '-outform', 'DER', '-out', 'pub.der']).status).toBe(0);
      dir.write('m.bin', 'openssl wrote this');
      expect(
        dir.run([
          'pkeyutl',
          '-encrypt',
          '-pubin',
          '-keyform',
          'DER',
          '-inkey',
          'pub.der',
          '-in',
          'm.bin',
          '-out',
          'c.der',
        ]).status,
      ).toBe(0);
      const der = dir.read('c.der');
      const parts2 = decodeSm2Ciphertext(der, 'gmt0009');
      expect(parts2.c2.length).toBe('openssl wrote this'.length);
      expect(() => sm2PublicPoint(parts2.c1)).not.toThrow();
      expect(encodeSm2Ciphertext(parts2, 'gmt0009').equals(der)).toBe(true);
      // And OpenSSL decrypts what this code encrypts to its key.
      const ours = sm2Encrypt(sm2PublicPointOfSpki(dir.read('pub.der')), Buffer.from('and the other way'));
      dir.write('ours.der', ours);
      const out = dir.run(['pkeyutl', '-decrypt', '-inkey', 'k.pem', '-in', 'ours.der', '-out', 'p.bin']);
      expect(out.status).toBe(0);
      expect(dir.read('p.bin').toString()).toBe('and the other way');
    } finally {
      dir.remove();
    }
  });

  it('refuses BER, trailing bytes, a wrong hash length and truncated raw forms', () => {
    const der = encodeSm2Ciphertext(parts, 'gmt0009');
    expect(() => decodeSm2Ciphertext(Buffer.concat([der, hex('00')]), 'gmt0009')).toThrow(EncodingError);
    // C1 = the A.2 point: x starts 0x09 (a leading 0x00 would be non-minimal), y starts 0xCC (0x00 needed).
    const x = A2.point.subarray(1, 33);
    const y = A2.point.subarray(33);
    const tail = Buffer.concat([hex('0420'), Buffer.alloc(32, 7), hex('0403'), hex('010203')]);
    const body = (xInt: Buffer): Buffer => {
      const content = Buffer.concat([xInt, hex('022100'), y, tail]);
      return Buffer.concat([Buffer.from([0x30, content.length]), content]); // under 128 bytes: short form
    };
    expect(decodeSm2Ciphertext(body(Buffer.concat([hex('0220'), x])), 'gmt0009').c1.equals(A2.point)).toBe(true);
    expect(() => decodeSm2Ciphertext(body(Buffer.concat([hex('022100'), x])), 'gmt0009')).toThrow(/non-minimal/);
    const shortHash = encodeSm2Ciphertext(parts, 'c1c3c2').subarray(0, 65 + 31);
    expect(() => decodeSm2Ciphertext(shortHash, 'c1c3c2')).toThrow(EncodingError);
    expect(() => encodeSm2Ciphertext({ ...parts, c3: Buffer.alloc(20) }, 'gmt0009')).toThrow(/C3/);
  });

  it('refuses to encrypt nothing', () => {
    expect(() => sm2Encrypt(A2.point, Buffer.alloc(0))).toThrow(EncodingError);
  });
});
