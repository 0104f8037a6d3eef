import type { Mechanism } from 'pkcs11js';
import { sm2Mechanism, type EncryptionAlgorithm, type KeySpecRow, type Sm2Profile } from './algorithms';
import { PlanError } from './planError';
import { encodeSm2Ciphertext, type Sm2Ciphertext } from './sm2Ciphertext';

/**
 * The token calls of the vendor rows other than signing (signPlan.ts plans those): which number of the HSM
 * profile generates a key pair of a key spec, and what C_Decrypt receives for SM2PKE. The rows name the role;
 * the profile maps it to the vendor's number.
 */

/** The key pair generation mechanism of `spec` on a token with this profile (undefined: it cannot). */
export function keyGenerationMechanism(spec: KeySpecRow, profile: Sm2Profile | undefined): number | undefined {
  if (spec.generate) return spec.generate.mechanism;
  if (spec.vendorProfile !== 'sm2' || !spec.vendorRole || !profile) return undefined;
  return sm2Mechanism(profile, spec.vendorRole);
}

/**
 * C_Decrypt for an SM2 ciphertext: the profile's `encrypt` mechanism, and the ciphertext re-encoded in the format
 * the token speaks (the API's is GM/T 0009 ASN.1). Throws `PlanError` (`unsupported`) when the profile has no such role.
 */
export function planSm2Decryption(
  alg: EncryptionAlgorithm,
  profile: Sm2Profile | undefined,
  ciphertext: Sm2Ciphertext,
): { readonly mechanism: Mechanism; readonly data: Buffer } {
  const mechanism = profile && alg.vendorRole ? sm2Mechanism(profile, alg.vendorRole) : undefined;
  if (!profile || mechanism === undefined) {
    throw new PlanError('unsupported', `${alg.name} needs an SM2 HSM profile with an encryption mechanism.`);
  }
  return { mechanism: { mechanism }, data: encodeSm2Ciphertext(ciphertext, profile.ciphertextFormat) };
}
