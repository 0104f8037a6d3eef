import { Integer } from 'asn1js';
import { EncodingError } from './encodingError';

/**
 * The few DER primitives that are stricter or simpler by hand than through asn1-schema: one-level TLV
 * reading, INTEGER magnitudes and SET OF ordering (X.690 §8.1, §8.3, §10, §11.6).
 * Structures are built with the @peculiar/asn1-* schemas; these helpers only frame or order their bytes.
 */

/** One DER tag-length-value read from a buffer; the content is `buf.subarray(contentStart, end)`. */
export interface Tlv {
  readonly tag: number;
  readonly contentStart: number;
  readonly length: number;
  readonly end: number;
}

/**
 * Reads the TLV starting at `offset`. Strict: single-octet tags only, definite minimal lengths (no
 * indefinite form, no leading zero length octets, no long form below 128) and content inside `buf`.
 */
export function readTlv(buf: Buffer, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new EncodingError('DER: truncated header');
  const tag = buf.readUInt8(offset);
  if ((tag & 0x1f) === 0x1f) throw new EncodingError('DER: multi-octet tags are not supported here');
  const first = buf.readUInt8(offset + 1);
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    // 0x80 is the BER indefinite form; more than 4 length octets cannot describe a buffer we can hold.
    if (count === 0 || count > 4) throw new EncodingError('DER: indefinite or oversized length');
    if (contentStart + count > buf.length) throw new EncodingError('DER: truncated length');
    if (buf.readUInt8(contentStart) === 0) throw new EncodingError('DER: non-minimal length');
    length = buf.readUIntBE(contentStart, count);
    if (length < 0x80) throw new EncodingError('DER: long form used for a short length');
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > buf.length) throw new EncodingError('DER: content runs past the end of the input');
  return { tag, contentStart, length, end };
}

/**
 * Turns an unsigned big-endian magnitude (as PKCS#11 stores CKA_MODULUS and friends) into the content
 * octets of a non-negative DER INTEGER: leading zero octets removed, one 0x00 added back when the high
 * bit is set so the value does not read as negative (X.690 §8.3.2). Zero becomes the single octet 0x00.
 */
export function unsignedIntegerContent(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const body = Buffer.from(magnitude.subarray(start));
  if (body.length === 0) return Buffer.from([0]);
  return (body.readUInt8(0) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), body]) : body;
}

/** The complete DER of an INTEGER from its content octets (asn1js), as PKCS#11 wants CKA_SERIAL_NUMBER (§4.6.3). */
export function integerDer(content: ArrayBuffer): Buffer {
  return Buffer.from(new Integer({ valueHex: content }).toBER(false));
}

/**
 * Orders the encodings of SET OF components as DER requires (X.690 §11.6: ascending octet-string
 * order). Each input is one complete TLV, so none is a proper prefix of another and a plain
 * lexicographic compare equals the standard's zero-padded compare.
 */
export function derSetOrder<T>(items: readonly T[], encode: (item: T) => Buffer): T[] {
  return items
    .map((item) => ({ item, der: encode(item) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map((entry) => entry.item);
}
