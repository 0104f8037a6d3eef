import { readTlv, unsignedIntegerContent } from './der';
import { EncodingError } from './encodingError';

/**
 * The encodings of an SM2 ciphertext (GB/T 32918.4-2016 §6.1: C1 = kG, C3 = SM3(x2 ‖ M ‖ y2), C2 = M ⊕ t):
 * - `gmt0009`: GM/T 0009-2012 §7.2 ASN.1 `SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER,
 *   HASH OCTET STRING (32), CipherText OCTET STRING }`, as OpenSSL, BouncyCastle and most HSMs write it: the API's
 *   SM2PKE format (docs/decisions/0005-sm2.md);
 * - `c1c3c2`: `04 ‖ x ‖ y ‖ C3 ‖ C2` (GB/T 32918.4-2016 order); `c1c2c3`: `04 ‖ x ‖ y ‖ C2 ‖ C3` (the 2010 draft order).
 * An HSM profile names the one its token speaks; the daemon converts at the token boundary.
 */

export type Sm2CiphertextFormat = 'gmt0009' | 'c1c3c2' | 'c1c2c3';

/** The three parts: C1 as the uncompressed point (65 bytes), C3 (32 bytes), C2 (as long as the plaintext). */
export interface Sm2Ciphertext {
  readonly c1: Buffer;
  readonly c3: Buffer;
  readonly c2: Buffer;
}

const FIELD = 32;
const HASH = 32;
const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const header =
    n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : n < 0x10000 ? [tag, 0x82, n >> 8, n & 0xff] : undefined;
  if (!header) throw new EncodingError('SM2 ciphertext: too long');
  return Buffer.concat([Buffer.from(header), content]);
}

function checkParts(ct: Sm2Ciphertext): void {
  if (ct.c1.length !== 1 + 2 * FIELD || ct.c1[0] !== 0x04)
    throw new EncodingError('SM2 ciphertext: C1 must be 04 ‖ x ‖ y');
  if (ct.c3.length !== HASH) throw new EncodingError('SM2 ciphertext: C3 must be 32 bytes');
  if (ct.c2.length === 0) throw new EncodingError('SM2 ciphertext: empty C2');
}

/** Encodes the parts in `format`. */
export function encodeSm2Ciphertext(ct: Sm2Ciphertext, format: Sm2CiphertextFormat): Buffer {
  checkParts(ct);
  if (format === 'c1c3c2') return Buffer.concat([ct.c1, ct.c3, ct.c2]);
  if (format === 'c1c2c3') return Buffer.concat([ct.c1, ct.c2, ct.c3]);
  return tlv(
    SEQUENCE,
    Buffer.concat([
      tlv(INTEGER, unsignedIntegerContent(ct.c1.subarray(1, 1 + FIELD))),
      tlv(INTEGER, unsignedIntegerContent(ct.c1.subarray(1 + FIELD))),
      tlv(OCTET_STRING, ct.c3),
      tlv(OCTET_STRING, ct.c2),
    ]),
  );
}

/** One strict non-negative DER INTEGER of at most 32 significant bytes, left-padded to 32. */
function coordinate(der: Buffer, offset: number): { value: Buffer; end: number } {
  const t = readTlv(der, offset);
  if (t.tag !== INTEGER || t.length === 0) throw new EncodingError('SM2 ciphertext: expected INTEGER');
  let start = t.contentStart;
  const first = der.readUInt8(start);
  if (first & 0x80) throw new EncodingError('SM2 ciphertext: negative coordinate');
  if (first === 0 && t.length > 1) {
    if ((der.readUInt8(start + 1) & 0x80) === 0) throw new EncodingError('SM2 ciphertext: non-minimal INTEGER');
    start++;
  }
  if (t.end - start > FIELD) throw new EncodingError('SM2 ciphertext: coordinate wider than 32 bytes');
  const value = Buffer.alloc(FIELD);
  der.copy(value, FIELD - (t.end - start), start, t.end);
  return { value, end: t.end };
}

function octets(der: Buffer, offset: number): { value: Buffer; end: number } {
  const t = readTlv(der, offset);
  if (t.tag !== OCTET_STRING) throw new EncodingError('SM2 ciphertext: expected OCTET STRING');
  return { value: Buffer.from(der.subarray(t.contentStart, t.end)), end: t.end };
}

/**
 * Decodes a ciphertext in `format`. Strict for `gmt0009` (DER only, nothing after the SEQUENCE). The point C1 is
 * not checked against the curve here (`sm2PublicPoint` does that). Throws `EncodingError`.
 */
export function decodeSm2Ciphertext(bytes: Buffer, format: Sm2CiphertextFormat): Sm2Ciphertext {
  let ct: Sm2Ciphertext;
  if (format === 'gmt0009') {
    const seq = readTlv(bytes, 0);
    if (seq.tag !== SEQUENCE || seq.end !== bytes.length)
      throw new EncodingError('SM2 ciphertext: expected one SEQUENCE');
    const x = coordinate(bytes, seq.contentStart);
    const y = coordinate(bytes, x.end);
    const c3 = octets(bytes, y.end);
    const c2 = octets(bytes, c3.end);
    if (c2.end !== seq.end) throw new EncodingError('SM2 ciphertext: unexpected data after the ciphertext');
    ct = { c1: Buffer.concat([Buffer.from([0x04]), x.value, y.value]), c3: c3.value, c2: c2.value };
  } else {
    const head = 1 + 2 * FIELD;
    if (bytes.length <= head + HASH) throw new EncodingError('SM2 ciphertext: too short');
    const c1 = Buffer.from(bytes.subarray(0, head));
    ct =
      format === 'c1c3c2'
        ? { c1, c3: Buffer.from(bytes.subarray(head, head + HASH)), c2: Buffer.from(bytes.subarray(head + HASH)) }
        : {
            c1,
            c2: Buffer.from(bytes.subarray(head, bytes.length - HASH)),
            c3: Buffer.from(bytes.subarray(bytes.length - HASH)),
          };
  }
  checkParts(ct);
  return ct;
}
