import { createHash } from 'node:crypto';
import type { Mechanism } from 'pkcs11js';
import { sm2Mechanism, type SignatureAlgorithm, type Sm2Profile } from './algorithms';
import { digestInfo } from './digestInfo';
import { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsaSignature';
import { PlanError } from './planError';
import { SM2_DEFAULT_USER_ID, sm2E } from './sm2';

/**
 * What the caller asks to sign: the message itself, or its digest (MessageType=DIGEST; for SM2 the value e).
 * `sm2UserId` overrides the token profile's distinguishing ID for one SM2 signature (X.509 uses the default).
 */
export type SignSubject =
  | { readonly kind: 'message'; readonly data: Buffer; readonly sm2UserId?: string }
  | { readonly kind: 'digest'; readonly digest: Buffer };

/** What an SM2 signature needs besides its row: the token's HSM profile and the signer's public point (Z_A). */
export interface Sm2SignContext {
  readonly profile: Sm2Profile;
  /** The signer's public key as the uncompressed SEC 1 point. */
  readonly publicPoint: Buffer;
}

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
 * Throws `PlanError` when the token cannot make this signature or the digest does not fit the algorithm.
 */
export function planSignature(
  alg: SignatureAlgorithm,
  subject: SignSubject,
  mechanisms: ReadonlySet<number>,
  sm2?: Sm2SignContext,
): SignPlan {
  if (alg.vendorProfile === 'sm2') return planSm2Signature(alg, subject, mechanisms, sm2);
  if (subject.kind === 'message' && alg.onMessage && mechanisms.has(alg.onMessage.mechanism)) {
    return { mechanism: mech(alg.onMessage), data: subject.data };
  }
  const onDigest = alg.onDigest;
  if (!onDigest || !mechanisms.has(onDigest.mechanism)) {
    throw new PlanError('input', `The algorithm ${alg.label} is not supported by this token.`);
  }
  const digest = subject.kind === 'digest' ? subject.digest : createHash(alg.hash).update(subject.data).digest();
  if (digest.length !== alg.digestLength) {
    throw new PlanError('input', `The digest must be ${alg.digestLength} bytes for ${alg.label}.`);
  }
  const data = onDigest.input === 'digestInfo' ? digestInfo(alg.hash === 'sm3' ? 'sha256' : alg.hash, digest) : digest;
  return { mechanism: mech(onDigest), data };
}

/** The vendor numbers that sign an SM2 row's e, and that sign its message (the token computing Z_A and e). */
function sm2Signers(
  alg: SignatureAlgorithm,
  profile: Sm2Profile,
  mechanisms: ReadonlySet<number>,
): { onE: number | undefined; onMessage: number | undefined } {
  const listed = (m: number | undefined): number | undefined => (m !== undefined && mechanisms.has(m) ? m : undefined);
  if (!alg.vendorRoles) return { onE: undefined, onMessage: undefined };
  const sign = listed(sm2Mechanism(profile, alg.vendorRoles.onDigest));
  const combined = listed(sm2Mechanism(profile, alg.vendorRoles.onMessage));
  return profile.signInput === 'e'
    ? { onE: sign, onMessage: combined }
    : { onE: undefined, onMessage: combined ?? sign };
}

/**
 * SM2 (GB/T 32918.2-2016 §6.1): the token signs e = SM3(Z_A ‖ M), computed here with the profile's
 * distinguishing ID (DIGEST requests carry e itself, protocol §9.4). A token that only offers a mechanism over the
 * message computes Z_A itself with the vendor's default ID, which cannot be set through PKCS#11: it serves RAW
 * requests only, and only when the configured ID is that default. e is preferred when the token offers both, so
 * RAW and DIGEST requests mean exactly the same thing.
 */
function planSm2Signature(
  alg: SignatureAlgorithm,
  subject: SignSubject,
  mechanisms: ReadonlySet<number>,
  sm2: Sm2SignContext | undefined,
): SignPlan {
  const name = alg.label;
  if (!sm2) {
    throw new PlanError('unsupported', alg.unavailableOn('this token'));
  }
  const { onE, onMessage } = sm2Signers(alg, sm2.profile, mechanisms);
  const userId = (subject.kind === 'message' ? subject.sm2UserId : undefined) ?? sm2.profile.userId;
  if (onE !== undefined) {
    const e = subject.kind === 'digest' ? subject.digest : sm2E(sm2.publicPoint, subject.data, userId);
    if (e.length !== alg.digestLength) {
      throw new PlanError('input', `The digest must be the ${alg.digestLength}-byte SM2 e value for ${name}.`);
    }
    return { mechanism: { mechanism: onE }, data: e };
  }
  if (subject.kind === 'message' && onMessage !== undefined && userId === SM2_DEFAULT_USER_ID) {
    return { mechanism: { mechanism: onMessage }, data: subject.data };
  }
  throw new PlanError(
    'unsupported',
    onMessage === undefined
      ? `${name}: the token behind this warehouse lists none of the SM2 signing mechanisms of its HSM profile.`
      : subject.kind === 'digest'
        ? `${name} with MessageType=DIGEST needs a token mechanism that signs e; this token's SM2 mechanism takes the message.`
        : `${name}: this token computes Z_A itself with the default user ID, not the configured one.`,
  );
}

/** True when the token can make this algorithm's signature at all (for the capability probe). */
export function tokenSupports(alg: SignatureAlgorithm, mechanisms: ReadonlySet<number>, sm2?: Sm2Profile): boolean {
  if (alg.vendorProfile) {
    if (alg.vendorProfile !== 'sm2' || !sm2) return false;
    const { onE, onMessage } = sm2Signers(alg, sm2, mechanisms);
    return onE !== undefined || onMessage !== undefined;
  }
  return (
    (alg.onMessage !== undefined && mechanisms.has(alg.onMessage.mechanism)) ||
    (alg.onDigest !== undefined && mechanisms.has(alg.onDigest.mechanism))
  );
}

/**
 * The API's signature bytes from the token's output (ECDSA and SM2: raw r‖s → DER, as the cloud returns it).
 * `sm2Format` is what the token's SM2 mechanism returns (its HSM profile): a DER answer is read strictly and
 * written back, so only canonical DER reaches a client. Throws `EncodingError` on malformed output.
 */
export function encodeSignature(
  alg: SignatureAlgorithm,
  tokenOutput: Buffer,
  sm2Format: 'raw' | 'der' = 'raw',
): Buffer {
  if (alg.encoding === 'sm2-der' && sm2Format === 'der') return ecdsaRawToDer(ecdsaDerToRaw(tokenOutput, 32));
  return alg.encoding === 'ecdsa-der' || alg.encoding === 'sm2-der' ? ecdsaRawToDer(tokenOutput) : tokenOutput;
}

function mech(m: { mechanism: number; parameter?: unknown }): Mechanism {
  return m.parameter === undefined
    ? { mechanism: m.mechanism }
    : { mechanism: m.mechanism, parameter: m.parameter as Mechanism['parameter'] };
}
