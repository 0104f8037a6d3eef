import { DER } from '@noble/curves/abstract/weierstrass';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils';
import { EncodingError } from './encodingError';

/**
 * ECDSA signatures in their two encodings:
 * - PKCS#11 `CKM_ECDSA` (and WebCrypto, JOSE) return `r ‖ s`, each left-padded to the field size
 *   (PKCS#11 v2.40 §2.3.1; 64 bytes for P-256, 96 for P-384, 132 for P-521);
 * - X.509, CMS and the Alibaba APIs want `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`
 *   (RFC 3279 §2.2.3; protocol §9.5).
 * The DER is @noble/curves' (`DER`, curve-independent: the same code serves P-256, P-384, secp256k1 and SM2).
 */

/** `EncodingError` for what @noble/curves refused, with its reason. */
function refused(e: unknown): EncodingError {
  return new EncodingError(`ECDSA: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * Converts a raw `r ‖ s` signature (two equal halves) to DER `SEQUENCE { r, s }`: minimal non-negative INTEGERs
 * (a zero half becomes `02 01 00`), the long length form where P-521 needs it.
 */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  // 2048 bytes is far above any curve (P-521: 132) and keeps every length within noble's length forms.
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 2048) {
    throw new EncodingError(`ECDSA: raw signature must be two equal non-empty halves, got ${raw.length} bytes`);
  }
  const half = raw.length / 2;
  try {
    const r = bytesToNumberBE(raw.subarray(0, half));
    const s = bytesToNumberBE(raw.subarray(half));
    return Buffer.from(DER.hexFromSig({ r, s }), 'hex');
  } catch (e) {
    throw refused(e);
  }
}

/**
 * Converts DER `SEQUENCE { r, s }` to raw `r ‖ s` with each half left-padded to `size` bytes (the curve's field
 * size: 32 for P-256 and SM2, 48 for P-384, 66 for P-521). Strict: the input must be the canonical DER of its
 * value (re-encoding gives the same bytes: no BER length forms, no non-minimal, negative or empty INTEGER, nothing
 * after the SEQUENCE), and neither value may be wider than `size`, so a malleated signature never reaches a verifier.
 * Throws `EncodingError`.
 */
export function ecdsaDerToRaw(der: Buffer, size: number): Buffer {
  if (!Number.isInteger(size) || size <= 0) throw new EncodingError(`ECDSA: invalid field size ${size}`);
  let sig: { r: bigint; s: bigint };
  try {
    sig = DER.toSig(der);
  } catch (e) {
    throw refused(e);
  }
  // noble reads an empty INTEGER as zero; the canonical re-encoding catches that and anything else lenient.
  if (DER.hexFromSig(sig) !== der.toString('hex')) throw new EncodingError('ECDSA: not the canonical DER encoding');
  const limit = 1n << BigInt(8 * size);
  if (sig.r >= limit || sig.s >= limit) throw new EncodingError(`ECDSA: INTEGER longer than the ${size}-byte field`);
  return Buffer.concat([numberToBytesBE(sig.r, size), numberToBytesBE(sig.s, size)]);
}
