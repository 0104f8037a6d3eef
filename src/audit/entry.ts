import { hash } from 'node:crypto';

/**
 * The audit log's line format (docs/operations.md "Audit log"). Every line is one JSON object whose first member
 * is `seq` and whose last member is `prev`, the SHA-256 (hex) of the previous line's exact bytes (without its
 * newline). Hashing the bytes as written, not a re-serialisation, keeps the chain independent of JSON formatting.
 */

/** The `prev` of a chain's first entry. */
export const GENESIS = '0'.repeat(64);

/** What kind of event an entry records. */
export type EntryType =
  | 'open' // the chain starts or continues in this file: chain id, audit key, why (start, rotate)
  | 'sign'
  | 'decrypt'
  | 'lifecycle'
  | 'refused'
  | 'reload'
  | 'checkpoint';

/** The hash that chains a line: SHA-256 of its bytes without the newline, hex. */
export function lineHash(line: string): string {
  // crypto.hash (one shot) costs a fifth of createHash().update().digest() on lines this short.
  return hash('sha256', line, 'hex');
}

let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, with the date and time up to the second made once per second: entries of the same
 * second differ only in their milliseconds.
 */
function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    // `YYYY-MM-DDTHH:MM:SS.` (years 0-9999, the only ones a clock gives us).
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const milli = ms - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/**
 * One line (without newline): `seq`, `time` and `type` first, the event's fields, then `prev`. Field values are
 * whatever the event carries; undefined ones are left out by JSON.stringify.
 */
export function formatLine(seq: number, time: number, type: EntryType, fields: object, prev: string): string {
  const body = JSON.stringify(fields);
  const head = `{"seq":${seq},"time":"${isoTime(time)}","type":"${type}"`;
  return `${head}${body.length > 2 ? `,${body.slice(1, -1)}` : ''},"prev":"${prev}"}`;
}

/**
 * The bytes a checkpoint signs: the chain, and the sequence number and hash of the entry it vouches for. Since every
 * entry carries its predecessor's hash, a valid signature over an entry's hash vouches for the whole chain before it.
 */
export function checkpointPayload(chain: string, headSeq: number, head: string): Buffer {
  return Buffer.from(`p11bridge-audit-checkpoint/v1\n${chain}\n${headSeq}\n${head}`, 'utf8');
}

/** SHA-256 fingerprint (hex) of a DER SubjectPublicKeyInfo: how entries name the audit key. */
export function keyFingerprint(spki: Buffer): string {
  return hash('sha256', spki, 'hex');
}
