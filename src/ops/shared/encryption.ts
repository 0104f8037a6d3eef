import { constants, publicEncrypt } from 'node:crypto';
import { ENCRYPTION_ALGORITHMS, encryptionAlgorithm, type EncryptionAlgorithm } from '../../crypto/algorithms';
import { rsaPublicNumbers } from '../../crypto/digestVerify';
import { sm2Encrypt, sm2PublicPoint, sm2PublicPointOfSpki } from '../../crypto/sm2';
import { decodeSm2Ciphertext, type Sm2Ciphertext } from '../../crypto/sm2Ciphertext';
import { planSm2Decryption } from '../../crypto/sm2Plan';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { Logger } from '../../observability/logger';
import { ciphertextRefusal } from '../../token/ckr';
import type { KeySource } from '../../token/tokenManager';
import type { Located } from '../../token/tokenRegistry';
import { assertUsable } from './signing';

/** The `Algorithm` values both products accept for Encrypt/Decrypt. */
const ENCRYPTION_NAMES = ENCRYPTION_ALGORITHMS.map((a) => a.name);

/** The encryption row for an `Algorithm` value (CAS's `RSAESOAEPSHA_1` spelling included). */
export function findEncryptionAlgorithm(name: string): EncryptionAlgorithm {
  const alg = encryptionAlgorithm(name);
  if (!alg) throw invalidParameter('Algorithm', `expected one of ${ENCRYPTION_NAMES.join(', ')}.`);
  return alg;
}

/**
 * Checks, before any work, that this certificate's key pair can serve `alg` on its token, for encryption and
 * decryption alike: encrypting to a key that cannot decrypt here would only produce data nobody can recover
 * (the private key never leaves the token). So the algorithm must fit the key type, the certificate must be
 * ACTIVE (assertUsable), the key must have been made for decryption (KMS CreateCertificate's RSA keys are;
 * the demo signing keys are not), and the token's capability probe must have proved the mechanism
 * (SoftHSM2 2.6.1 decrypts OAEP with SHA-1 only: RSAES_OAEP_SHA_256 is UnsupportedOperation there).
 */
export function assertEncryptionFits(located: Located, alg: EncryptionAlgorithm, certificateParam: string): void {
  const { entry, token } = located;
  if (!alg.fitsKey({ keyType: entry.keyType })) {
    throw invalidParameter(
      'Algorithm',
      `${alg.name} does not match the key spec ${entry.keySpec ?? entry.keyType} of this certificate.`,
    );
  }
  if (!alg.servedBy(token.sm2Profile)) {
    throw new ApiError('UnsupportedOperation', alg.unavailableOn(`the token behind warehouse ${token.warehouseId}`));
  }
  assertUsable(entry);
  if (!entry.canDecrypt) {
    throw invalidParameter(
      certificateParam,
      'the key pair of this certificate was made for signing only; it cannot decrypt, so it does not encrypt either.',
    );
  }
  if (!token.capabilities.decryptionAlgorithms.includes(alg.name)) {
    throw new ApiError(
      'UnsupportedOperation',
      `${alg.name} is not supported by the token behind warehouse ${token.warehouseId}: it cannot decrypt it ` +
        `(its capability probe found no working ${alg.name} decryption), so this daemon does not encrypt with it either.`,
    );
  }
}

/** OAEP hash length in bytes. */
function hashLength(alg: EncryptionAlgorithm): number {
  return alg.oaepHash === 'sha1' ? 20 : 32;
}

/** The largest plaintext for this key: k − 2·hLen − 2 (RFC 8017 §7.1.1); 214 / 190 bytes for RSA-2048. */
function maxPlaintext(located: Located, alg: EncryptionAlgorithm): number {
  return located.entry.signatureLength - 2 * hashLength(alg) - 2;
}

/**
 * RSAES-OAEP encryption with the certificate's public key, in software (a public-key operation), after
 * `assertEncryptionFits`. The label is empty and MGF1 uses the OAEP hash, as the token's mechanism does.
 */
export function encryptFor(located: Located, alg: EncryptionAlgorithm, plaintext: Buffer, param: string): Buffer {
  if (alg.vendorProfile === 'sm2') return sm2EncryptFor(located, alg, plaintext, param);
  const limit = maxPlaintext(located, alg);
  if (plaintext.length > limit) {
    throw invalidParameter(
      param,
      `${alg.name} encrypts at most ${limit} bytes with this key; got ${plaintext.length}.`,
    );
  }
  return publicEncrypt(
    { key: located.entry.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg.oaepHash },
    plaintext,
  );
}

/**
 * RSAES-OAEP decryption by the token with the certificate's private key, after `assertEncryptionFits`. The
 * ciphertext's length and range are checked here (public facts); any other refusal is the token finding no
 * valid OAEP encoding. SoftHSM2 answers that with CKR_GENERAL_ERROR, which the token layer reports as an internal
 * error; here, with the key, mechanism and session known good, it is the caller's ciphertext: InvalidParameter,
 * one message for every padding failure (no oracle), the token's code logged and never sent. `from`: a certificate
 * identity, or a KMS key version's key pair (its entry id is then the version's label).
 */
export async function decryptWith(
  located: Located,
  alg: EncryptionAlgorithm,
  ciphertext: Buffer,
  log: Logger,
  requestId: string,
  from: KeySource = 'identity',
): Promise<Buffer> {
  if (alg.vendorProfile === 'sm2') return sm2DecryptWith(located, alg, ciphertext, log, requestId, from);
  const { entry, token } = located;
  const k = entry.signatureLength;
  if (ciphertext.length !== k) {
    throw invalidParameter(
      'CiphertextBlob',
      `must be ${k} bytes for this key (its modulus length); got ${ciphertext.length}.`,
    );
  }
  if (BigInt(`0x${ciphertext.toString('hex')}`) >= rsaPublicNumbers(entry.publicKey).n) {
    throw invalidParameter('CiphertextBlob', 'it is not a ciphertext of this key (not below the modulus).');
  }
  // assertEncryptionFits proved the row has a decryption mechanism.
  const mechanism = alg.decrypt as NonNullable<EncryptionAlgorithm['decrypt']>;
  try {
    return await token.decrypt(entry.id, mechanism, ciphertext, undefined, from);
  } catch (e) {
    throw refusedCiphertext(e, alg, log, requestId);
  }
}

/** A token's refusal of a ciphertext, as the caller sees it: one InvalidParameter for every failure (no oracle). */
function refusedCiphertext(e: unknown, alg: EncryptionAlgorithm, log: Logger, requestId: string): unknown {
  const ckr = ciphertextRefusal(e);
  if (ckr !== undefined) {
    log.info({ requestId, ckr }, 'the token could not decrypt the ciphertext');
    return invalidParameter('CiphertextBlob', `it cannot be decrypted with this key and ${alg.name}.`);
  }
  return e;
}

// ---------------------------------------------------------------------------------------------------------------
// SM2PKE (GB/T 32918.4-2016). The ciphertext on the wire is GM/T 0009 ASN.1 (docs/decisions/0005-sm2.md); the token
// receives it in the format its HSM profile names (src/crypto/sm2Plan.ts).

/** SM2 encryption with the certificate's public key, in software (a public-key operation). */
function sm2EncryptFor(located: Located, alg: EncryptionAlgorithm, plaintext: Buffer, param: string): Buffer {
  if (plaintext.length > alg.maxPlaintext) {
    throw invalidParameter(param, `${alg.name} encrypts at most ${alg.maxPlaintext} bytes; got ${plaintext.length}.`);
  }
  return sm2Encrypt(sm2PublicPointOfSpki(located.entry.spki), plaintext);
}

/** SM2 decryption by the token; a ciphertext that is not GM/T 0009 with a point of the curve is refused before. */
async function sm2DecryptWith(
  located: Located,
  alg: EncryptionAlgorithm,
  ciphertext: Buffer,
  log: Logger,
  requestId: string,
  from: KeySource,
): Promise<Buffer> {
  let parts: Sm2Ciphertext;
  try {
    parts = decodeSm2Ciphertext(ciphertext, 'gmt0009');
    sm2PublicPoint(parts.c1);
  } catch {
    throw invalidParameter(
      'CiphertextBlob',
      'it is not an SM2 ciphertext (GM/T 0009 SEQUENCE { x, y, hash, ciphertext }).',
    );
  }
  // A PlanError rises as it is: the API layer answers it (src/api/lowerFloorErrors.ts).
  const plan = planSm2Decryption(alg, located.token.sm2Profile, parts);
  try {
    // The plaintext is shorter than its ciphertext, whatever the format.
    return await located.token.decrypt(located.entry.id, plan.mechanism, plan.data, plan.data.length, from);
  } catch (e) {
    throw refusedCiphertext(e, alg, log, requestId);
  }
}
