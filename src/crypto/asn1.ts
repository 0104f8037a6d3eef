import { AsnConvert } from '@peculiar/asn1-schema';
import { EncodingError } from './encodingError';

/**
 * Glue between Node `Buffer`s and @peculiar/asn1-schema, which speaks `ArrayBuffer`.
 */

/** A fresh `ArrayBuffer` holding exactly these bytes (a Buffer may be a view into a shared pool). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/** Serializes an asn1-schema object to DER. */
export function toDer(value: unknown): Buffer {
  return Buffer.from(AsnConvert.serialize(value));
}

/**
 * Parses `der` as `type` and insists that re-encoding gives back the same bytes. asn1-schema alone
 * accepts BER, ignores trailing bytes and drops explicit DEFAULT values; anything we later re-encode
 * (and sign over) must therefore already be DER, or a signature would cover different bytes.
 */
export function parseDer<T>(der: Uint8Array, type: new () => T, what: string): T {
  let parsed: T;
  try {
    parsed = AsnConvert.parse(der, type);
  } catch (cause) {
    throw new EncodingError(`${what}: not valid ASN.1`, { cause });
  }
  if (!toDer(parsed).equals(der)) throw new EncodingError(`${what}: not DER (re-encoding differs)`);
  return parsed;
}
