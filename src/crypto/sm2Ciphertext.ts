import { AsnConvert, AsnIntegerArrayBufferConverter, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import { unsignedIntegerContent } from './der';
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

/** GM/T 0009-2012 §7.2 `SM2Cipher`: the coordinates of C1 as INTEGERs, C3 and C2 as OCTET STRINGs. */
class Sm2CipherAsn {
  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })
  xCoordinate = new ArrayBuffer(0);

  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })
  yCoordinate = new ArrayBuffer(0);

  @AsnProp({ type: AsnPropTypes.OctetString })
  hash = new ArrayBuffer(0);

  @AsnProp({ type: AsnPropTypes.OctetString })
  cipherText = new ArrayBuffer(0);
}

function checkParts(ct: Sm2Ciphertext): void {
  if (ct.c1.length !== 1 + 2 * FIELD || ct.c1[0] !== 0x04)
    throw new EncodingError('SM2 ciphertext: C1 must be 04 ‖ x ‖ y');
  if (ct.c3.length !== HASH) throw new EncodingError('SM2 ciphertext: C3 must be 32 bytes');
  if (ct.c2.length === 0) throw new EncodingError('SM2 ciphertext: empty C2');
}

const toArrayBuffer = (b: Buffer): ArrayBuffer => new Uint8Array(b).buffer;

/** Encodes the parts in `format`. */
export function encodeSm2Ciphertext(ct: Sm2Ciphertext, format: Sm2CiphertextFormat): Buffer {
  checkParts(ct);
  if (format === 'c1c3c2') return Buffer.concat([ct.c1, ct.c3, ct.c2]);
  if (format === 'c1c2c3') return Buffer.concat([ct.c1, ct.c2, ct.c3]);
  const asn = new Sm2CipherAsn();
  asn.xCoordinate = toArrayBuffer(unsignedIntegerContent(ct.c1.subarray(1, 1 + FIELD)));
  asn.yCoordinate = toArrayBuffer(unsignedIntegerContent(ct.c1.subarray(1 + FIELD)));
  asn.hash = toArrayBuffer(ct.c3);
  asn.cipherText = toArrayBuffer(ct.c2);
  return Buffer.from(AsnConvert.serialize(asn));
}

/**
 * A coordinate's INTEGER content, checked as DER requires (X.690 §8.3.2: non-negative, minimal) and no wider than
 * the field, left-padded to 32 bytes. asn1-schema hands over the content octets as they were written.
 */
function coordinate(content: ArrayBuffer): Buffer {
  const b = Buffer.from(content);
  if (b.length === 0) throw new EncodingError('SM2 ciphertext: expected INTEGER');
  if ((b[0] ?? 0) & 0x80) throw new EncodingError('SM2 ciphertext: negative coordinate');
  if (!unsignedIntegerContent(b).equals(b)) throw new EncodingError('SM2 ciphertext: non-minimal INTEGER');
  const magnitude = b[0] === 0 && b.length > 1 ? b.subarray(1) : b;
  if (magnitude.length > FIELD) throw new EncodingError('SM2 ciphertext: coordinate wider than 32 bytes');
  return Buffer.concat([Buffer.alloc(FIELD - magnitude.length), magnitude]);
}

/** Parses GM/T 0009 strictly: the input must be the DER of what it decodes to (re-encoding gives the same bytes). */
function decodeGmt0009(bytes: Buffer): Sm2Ciphertext {
  let asn: Sm2CipherAsn;
  try {
    asn = AsnConvert.parse(bytes, Sm2CipherAsn);
  } catch (e) {
    throw new EncodingError(`SM2 ciphertext: expected one SEQUENCE (${e instanceof Error ? e.message : String(e)})`);
  }
  const ct = {
    c1: Buffer.concat([Buffer.from([0x04]), coordinate(asn.xCoordinate), coordinate(asn.yCoordinate)]),
    c3: Buffer.from(asn.hash),
    c2: Buffer.from(asn.cipherText),
  };
  // BER length forms, constructed strings and bytes after the SEQUENCE all re-encode differently.
  if (!Buffer.from(AsnConvert.serialize(asn)).equals(bytes)) {
    throw new EncodingError('SM2 ciphertext: not DER, or unexpected data after the ciphertext');
  }
  return ct;
}

/**
 * Decodes a ciphertext in `format`. Strict for `gmt0009` (DER only, nothing after the SEQUENCE). The point C1 is
 * not checked against the curve here (`sm2PublicPoint` does that). Throws `EncodingError`.
 */
export function decodeSm2Ciphertext(bytes: Buffer, format: Sm2CiphertextFormat): Sm2Ciphertext {
  let ct: Sm2Ciphertext;
  if (format === 'gmt0009') {
    ct = decodeGmt0009(bytes);
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
