import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../../src/crypto/ecdsaSignature';
import { EncodingError } from '../../../src/crypto/encodingError';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const filled = (length: number, byte: number): string => Buffer.alloc(length, byte).toString('hex');

/** Hand-checked encodings: raw halves on the left, DER on the right (X.690 §8.3, RFC 3279 §2.2.3). */
const KNOWN: readonly { name: string; raw: string; der: string; size: number }[] = [
  {
    name: 'strips leading zero octets of r',
    raw: `0000${filled(30, 0x11)}` + filled(32, 0x22),
    der: `3042 021e${filled(30, 0x11)} 0220${filled(32, 0x22)}`,
    size: 32,
  },
  {
    name: 'prepends 0x00 to s when its high bit is set',
    raw: filled(32, 0x11) + filled(32, 0x80),
    der: `3045 0220${filled(32, 0x11)} 022100${filled(32, 0x80)}`,
    size: 32,
  },
  {
    name: 'pads both halves when both high bits are set',
    raw: filled(32, 0xff) + filled(32, 0x90),
    der: `3046 022100${filled(32, 0xff)} 022100${filled(32, 0x90)}`,
    size: 32,
  },
  {
    name: 'reduces r with 31 leading zero octets to one octet',
    raw: `${filled(31, 0)}05` + filled(32, 0x33),
    der: `3025 020105 0220${filled(32, 0x33)}`,
    size: 32,
  },
  {
    name: 'strips zeros and then pads when the first significant octet has its high bit set',
    raw: `0000${filled(30, 0xa0)}` + filled(32, 0x01),
    der: `3043 021f00${filled(30, 0xa0)} 0220${filled(32, 0x01)}`,
    size: 32,
  },
  {
    name: 'encodes P-384 halves of 48 octets',
    raw: filled(48, 0x81) + filled(48, 0x01),
    der: `3065 023100${filled(48, 0x81)} 0230${filled(48, 0x01)}`,
    size: 48,
  },
  {
    name: 'uses the long length form for P-521 (66-octet halves)',
    raw: `01${filled(65, 0xff)}` + `01${filled(65, 0xee)}`,
    der: `308188 0242 01${filled(65, 0xff)} 0242 01${filled(65, 0xee)}`,
    size: 66,
  },
];

describe('ecdsaRawToDer / ecdsaDerToRaw', () => {
  it.each(KNOWN)('$name', ({ raw, der, size }) => {
    expect(ecdsaRawToDer(hex(raw)).toString('hex')).toBe(hex(der).toString('hex'));
    expect(ecdsaDerToRaw(hex(der), size).toString('hex')).toBe(hex(raw).toString('hex'));
  });

  it('encodes r = 0 as a single zero octet, and refuses that DER back (no valid signature has r = 0)', () => {
    const raw = filled(32, 0) + filled(32, 0x44);
    const der = `3025 020100 0220${filled(32, 0x44)}`;
    expect(ecdsaRawToDer(hex(raw)).toString('hex')).toBe(hex(der).toString('hex'));
    expect(() => ecdsaDerToRaw(hex(der), 32)).toThrow(EncodingError);
  });

  it('encodes the RFC 6979 A.2.5 P-256/SHA-256 signature of "sample", which node:crypto verifies', () => {
    // RFC 6979 §A.2.5: the public key U and the (r, s) of ECDSA, SHA-256, message "sample".
    const publicKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: hex('60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6').toString('base64url'),
        y: hex('7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299').toString('base64url'),
      },
      format: 'jwk',
    });
    const r = 'EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716';
    const s = 'F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8';
    const der = ecdsaRawToDer(hex(r + s));
    expect(der.toString('hex').toUpperCase()).toBe(`3046022100${r}022100${s}`);
    expect(verify('sha256', Buffer.from('sample'), { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
    expect(ecdsaDerToRaw(der, 32).toString('hex').toUpperCase()).toBe(r + s);
  });

  it('round-trips 1000 node:crypto P-256 signatures and node verifies the DER form', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 1000; i++) {
      const message = randomBytes(32);
      const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const der = ecdsaRawToDer(raw);
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
      expect(ecdsaDerToRaw(der, 32).equals(raw)).toBe(true);
    }
  });

  it('converts node DER signatures to raw r‖s that node verifies as ieee-p1363 (P-384)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    for (let i = 0; i < 100; i++) {
      const message = randomBytes(16);
      const der = sign('sha384', message, { key: privateKey, dsaEncoding: 'der' });
      const raw = ecdsaDerToRaw(der, 48);
      expect(raw).toHaveLength(96);
      expect(verify('sha384', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
      expect(ecdsaRawToDer(raw).equals(der)).toBe(true);
    }
  });

  it.each([
    ['an empty buffer', ''],
    ['an odd number of bytes', '010203'],
  ])('rejects a raw signature that is %s', (_name, raw) => {
    expect(() => ecdsaRawToDer(hex(raw))).toThrow(EncodingError);
  });

  const s32 = `0220${filled(32, 0x22)}`;
  it.each([
    ['an outer tag other than SEQUENCE', `3125 020101 ${s32}`],
    ['trailing bytes after the SEQUENCE', `3025 020101 ${s32} 00`],
    ['the indefinite length form', `3080 020101 ${s32} 0000`],
    ['a non-minimal long-form length', `308125 020101 ${s32}`],
    ['a SEQUENCE longer than the input', `3026 020101 ${s32}`],
    ['an INTEGER with a superfluous leading zero', `3026 02020001 ${s32}`],
    ['a negative INTEGER', `3025 020180 ${s32}`],
    ['an empty INTEGER', `3024 0200 ${s32}`],
    ['an INTEGER wider than the field', `3045 0221${filled(33, 0x11)} ${s32}`],
    ['a missing s', `3003 020101`],
    ['a third INTEGER', `3028 020101 ${s32} 020101`],
    ['an element that is not an INTEGER', `3025 040101 ${s32}`],
    ['a truncated header', `30`],
    ['nothing at all', ``],
  ])('rejects DER with %s', (_name, der) => {
    expect(() => ecdsaDerToRaw(hex(der), 32)).toThrow(EncodingError);
  });

  it('rejects a non-positive field size', () => {
    expect(() => ecdsaDerToRaw(hex(`3025 020101 ${s32}`), 0)).toThrow(EncodingError);
  });
});
