import { invalidParameter } from '../../errors/apiError';
import type { SignatureAlgorithm } from '../../crypto/algorithms';
import type { SignSubject } from '../../crypto/signPlan';

/** The largest RAW message both products accept (KMS: "≤ 4KB"; CAS: "< 4KB"): 4096 bytes of decoded data. */
export const MAX_RAW_BYTES = 4096;

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
