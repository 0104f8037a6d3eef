import { z } from 'zod';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { SignatureAlgorithm } from '../../crypto/algorithms';
import type { SignSubject } from '../../crypto/signPlan';

/** The largest RAW message both products accept (KMS: "≤ 4KB"; CAS: "< 4KB"): 4096 bytes of decoded data. */
const MAX_RAW_BYTES = 4096;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

/** Strict base64 (standard alphabet, padded): Buffer.from would silently skip bad characters. */
export function decodeBase64(name: string, value: string): Buffer {
  if (!BASE64.test(value)) throw invalidParameter(name, 'the value is not valid base64.');
  return Buffer.from(value, 'base64');
}

function rawSubject(name: string, data: Buffer): SignSubject {
  if (data.length > MAX_RAW_BYTES) {
    throw invalidParameter(
      name,
      `RAW data is ${data.length} bytes; the limit is ${MAX_RAW_BYTES}. Use MessageType=DIGEST.`,
    );
  }
  return { kind: 'message', data };
}

function digestSubject(name: string, digest: Buffer, alg: SignatureAlgorithm): SignSubject {
  if (digest.length !== alg.digestLength) {
    throw invalidParameter(
      name,
      `a DIGEST must be the ${alg.digestLength}-byte ${alg.hash === 'sm3' ? 'SM3 e value' : 'SHA-256 digest'}; got ${digest.length} bytes.`,
    );
  }
  return { kind: 'digest', digest };
}

/** KMS: `Message` is always base64; RAW ≤ 4 KB of decoded data; DIGEST is the 32-byte digest (SM2: `e`). */
export function kmsSubject(messageType: 'RAW' | 'DIGEST', message: string, alg: SignatureAlgorithm): SignSubject {
  const bytes = decodeBase64('Message', message);
  return messageType === 'RAW' ? rawSubject('Message', bytes) : digestSubject('Message', bytes, alg);
}

/**
 * CAS: `RAW` is the literal UTF-8 string (2026 docs) or base64 (older docs, by config); `BASE64` is decoded;
 * `DIGEST` is the base64 digest (a 64-character hex digest is accepted too: protocol §12.2).
 */
export function casSubject(
  messageType: 'RAW' | 'BASE64' | 'DIGEST',
  message: string,
  alg: SignatureAlgorithm,
  rawEncoding: 'utf8' | 'base64',
): SignSubject {
  if (messageType === 'DIGEST') {
    const digest =
      HEX64.test(message) && alg.digestLength === 32 ? Buffer.from(message, 'hex') : decodeBase64('Message', message);
    return digestSubject('Message', digest, alg);
  }
  const data =
    messageType === 'BASE64' || rawEncoding === 'base64'
      ? decodeBase64('Message', message)
      : Buffer.from(message, 'utf8');
  return rawSubject('Message', data);
}

/**
 * A CAS `MessageType` parameter: the values case-insensitively (the cloud's own examples write `Base64` in
 * Encrypt/Decrypt and `BASE64` in Sign), defaulting to `RAW`.
 */
export function casMessageType<const T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(values)).default(values[0]);
}

/**
 * CAS `Verify`: what a RAW message may mean (decision 0008). Every `Verify` document and model says `Message` is
 * Base64; `Sign` now reads RAW as the literal string. Both readings are candidates, the configured one first: the
 * literal UTF-8 bytes, and the decoded bytes when the value is strict Base64. Either is an encoding of what the
 * caller says was signed, so accepting either does not widen what a signature proves. BASE64 and DIGEST have one
 * reading. Throws the first reading's error only when no reading is usable (e.g. longer than 4096 bytes).
 */
export function casVerifySubjects(
  messageType: 'RAW' | 'BASE64' | 'DIGEST',
  message: string,
  alg: SignatureAlgorithm,
  rawEncoding: 'utf8' | 'base64',
): SignSubject[] {
  if (messageType !== 'RAW') return [casSubject(messageType, message, alg, rawEncoding)];
  const readings: Array<'utf8' | 'base64'> = rawEncoding === 'utf8' ? ['utf8', 'base64'] : ['base64', 'utf8'];
  const subjects: SignSubject[] = [];
  let firstError: unknown;
  for (const reading of readings) {
    if (reading === 'base64' && !BASE64.test(message)) continue;
    try {
      subjects.push(casSubject('RAW', message, alg, reading));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      firstError ??= e;
    }
  }
  if (subjects.length === 0) throw firstError ?? invalidParameter('Message', 'the value is not valid base64.');
  return subjects;
}
