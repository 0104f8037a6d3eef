import { createHash } from 'node:crypto';
import type { Mechanism } from 'pkcs11js';
import { ApiError } from '../errors/apiError';
import type { SignatureAlgorithm } from './algorithms';
import { digestInfo } from './digestInfo';
import { ecdsaRawToDer } from './ecdsaSignature';

/** What the caller asks to sign: the message itself, or its digest (MessageType=DIGEST). */
export type SignSubject =
  { readonly kind: 'message'; readonly data: Buffer } | { readonly kind: 'digest'; readonly digest: Buffer };

/** A prepared token call: the mechanism and the exact bytes for C_Sign. */
export interface SignPlan {
  readonly mechanism: Mechanism;
  readonly data: Buffer;
}

/**
 * Chooses the mechanism and input for a signature on a token that offers `mechanisms`:
 * the token hashes the RAW message when it has the combined mechanism; otherwise (and for DIGEST)
 * the digest is computed here and the token signs it (DigestInfo for PKCS#1 v1.5, bare for PSS and ECDSA).
 * Both paths produce signatures that verify alike; for PKCS#1 v1.5 they are byte-identical.
 */
export function planSignature(
  alg: SignatureAlgorithm,
  subject: SignSubject,
  mechanisms: ReadonlySet<number>,
): SignPlan {
  if (subject.kind === 'message' && alg.onMessage && mechanisms.has(alg.onMessage.mechanism)) {
    return { mechanism: mech(alg.onMessage), data: subject.data };
  }
  const onDigest = alg.onDigest;
  if (!onDigest || !mechanisms.has(onDigest.mechanism)) {
    throw new ApiError(
      'InvalidParameter',
      `The algorithm ${alg.kmsName ?? alg.casName} is not supported by this token.`,
    );
  }
  const digest = subject.kind === 'digest' ? subject.digest : createHash(alg.hash).update(subject.data).digest();
  if (digest.length !== alg.digestLength) {
    throw new ApiError(
      'InvalidParameter',
      `The digest must be ${alg.digestLength} bytes for ${alg.kmsName ?? alg.casName}.`,
    );
  }
  const data = onDigest.input === 'digestInfo' ? digestInfo(alg.hash === 'sm3' ? 'sha256' : alg.hash, digest) : digest;
  return { mechanism: mech(onDigest), data };
}

/** True when the token can make this algorithm's signature at all (for the capability probe). */
export function tokenSupports(alg: SignatureAlgorithm, mechanisms: ReadonlySet<number>): boolean {
  if (alg.vendorProfile) return false;
  return (
    (alg.onMessage !== undefined && mechanisms.has(alg.onMessage.mechanism)) ||
    (alg.onDigest !== undefined && mechanisms.has(alg.onDigest.mechanism))
  );
}

/** The API's signature bytes from the token's output (ECDSA: raw r‖s → DER, as the cloud returns it). */
export function encodeSignature(alg: SignatureAlgorithm, tokenOutput: Buffer): Buffer {
  return alg.encoding === 'ecdsa-der' || alg.encoding === 'sm2-der' ? ecdsaRawToDer(tokenOutput) : tokenOutput;
}

function mech(m: { mechanism: number; parameter?: unknown }): Mechanism {
  return m.parameter === undefined
    ? { mechanism: m.mechanism }
    : { mechanism: m.mechanism, parameter: m.parameter as Mechanism['parameter'] };
}
