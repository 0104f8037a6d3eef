import { readTlv } from './der';
import { EncodingError } from './encodingError';

/**
 * ECDSA signatures in their two encodings:
 * - PKCS#11 `CKM_ECDSA` (and WebCrypto, JOSE) return `r ‖ s`, each left-padded to the field size
 *   (PKCS#11 v2.40 §2.3.1; 64 bytes for P-256, 96 for P-384, 132 for P-521);
 * - X.509, CMS and the Alibaba APIs want `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`
 *   (RFC 3279 §2.2.3; protocol §9.5).
 * Hand-written rather than through asn1-schema: it runs on every ECDSA signature and is two INTEGERs.
 */

const SEQUENCE = 0x30;
const INTEGER = 0x02;

/** Index of the first significant octet of the half `[from, to)`, keeping one octet for zero. */
function significantStart(raw: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to - 1 && raw[i] === 0) i++;
  return i;
}

/** Writes a definite length at `at` (short form, or 0x81/0x82 long form) and returns the next offset. */
function writeLength(out: Buffer, at: number, length: number): number {
  if (length < 0x80) {
    out[at] = length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = 0x81;
    out[at + 1] = length;
    return at + 2;
  }
  out[at] = 0x82;
  out.writeUInt16BE(length, at + 1);
  return at + 3;
}

function lengthOfLength(length: number): number {
  return length < 0x80 ? 1 : length < 0x100 ? 2 : 3;
}

/**
 * Converts a raw `r ‖ s` signature (two equal halves) to DER `SEQUENCE { r, s }`: leading zero octets
 * are stripped, a 0x00 is prepended when the high bit is set (INTEGERs are signed), a zero half
 * becomes `02 01 00`, and the long length form is used when P-521 needs it.
 */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  // 2048 bytes is far above any curve (P-521: 132) and keeps every length within the 0x82 form.
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 2048) {
    throw new EncodingError(`ECDSA: raw signature must be two equal non-empty halves, got ${raw.length} bytes`);
  }
  const half = raw.length / 2;
  const rStart = significantStart(raw, 0, half);
  const sStart = significantStart(raw, half, raw.length);
  const rPad = (raw[rStart] ?? 0) & 0x80 ? 1 : 0;
  const sPad = (raw[sStart] ?? 0) & 0x80 ? 1 : 0;
  const rLen = half - rStart + rPad;
  const sLen = raw.length - sStart + sPad;
  const bodyLen = 1 + lengthOfLength(rLen) + rLen + 1 + lengthOfLength(sLen) + sLen;
  const out = Buffer.alloc(1 + lengthOfLength(bodyLen) + bodyLen);
  out[0] = SEQUENCE;
  let at = writeLength(out, 1, bodyLen);
  out[at++] = INTEGER;
  at = writeLength(out, at, rLen) + rPad; // the pad octet is already 0x00 (Buffer.alloc)
  at += raw.copy(out, at, rStart, half);
  out[at++] = INTEGER;
  at = writeLength(out, at, sLen) + sPad;
  raw.copy(out, at, sStart, raw.length);
  return out;
}

/** Reads one strictly-DER, non-negative INTEGER and copies its magnitude right-aligned into `out`. */
function readInteger(der: Buffer, offset: number, out: Buffer, outOffset: number, size: number): number {
  const tlv = readTlv(der, offset);
  if (tlv.tag !== INTEGER) throw new EncodingError('ECDSA: expected INTEGER');
  if (tlv.length === 0) throw new EncodingError('ECDSA: empty INTEGER');
  let start = tlv.contentStart;
  const first = der.readUInt8(start);
  if (first & 0x80) throw new EncodingError('ECDSA: negative INTEGER');
  if (first === 0 && tlv.length > 1) {
    // X.690 §8.3.2: a leading 0x00 is only allowed when the next octet's high bit is set.
    if ((der.readUInt8(start + 1) & 0x80) === 0) throw new EncodingError('ECDSA: non-minimal INTEGER');
    start++;
  }
  const magnitude = tlv.end - start;
  if (magnitude > size) throw new EncodingError(`ECDSA: INTEGER longer than the ${size}-byte field`);
  der.copy(out, outOffset + size - magnitude, start, tlv.end);
  return tlv.end;
}

/**
 * Converts DER `SEQUENCE { r, s }` to raw `r ‖ s` with each half left-padded to `size` bytes (the
 * curve's field size: 32 for P-256 and SM2, 48 for P-384, 66 for P-521). Strict: throws
 * `EncodingError` on BER length forms, non-minimal or negative INTEGERs, values wider than `size`,
 * extra elements or trailing bytes, so a malleated signature never reaches a verifier.
 */
export function ecdsaDerToRaw(der: Buffer, size: number): Buffer {
  if (!Number.isInteger(size) || size <= 0) throw new EncodingError(`ECDSA: invalid field size ${size}`);
  const seq = readTlv(der, 0);
  if (seq.tag !== SEQUENCE) throw new EncodingError('ECDSA: expected SEQUENCE');
  if (seq.end !== der.length) throw new EncodingError('ECDSA: trailing bytes after the signature');
  const out = Buffer.alloc(2 * size);
  const afterR = readInteger(der, seq.contentStart, out, 0, size);
  const afterS = readInteger(der, afterR, out, size, size);
  if (afterS !== seq.end) throw new EncodingError('ECDSA: unexpected data after s');
  return out;
}
