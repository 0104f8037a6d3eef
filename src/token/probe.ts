import * as pkcs11 from 'pkcs11js';
import { findObjects } from './attributes';
import { ENCRYPTION_ALGORITHMS, type EncryptionAlgorithm } from '../crypto/algorithms';

/** The label of a probe key pair on a token that refuses session objects (an `owner/version` key-pair label). */
const PROBE_LABEL = 'p11bridge/capability-probe';

/** A throwaway RSA-2048 key pair that decrypts: a session object, or a token object where sessions are refused. */
function generateProbeKeys(lib: pkcs11.PKCS11, session: pkcs11.Handle, token: boolean): pkcs11.KeyPair {
  const onToken = token ? [{ type: pkcs11.CKA_LABEL, value: PROBE_LABEL }] : [];
  return lib.C_GenerateKeyPair(
    session,
    { mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN },
    [
      { type: pkcs11.CKA_TOKEN, value: token },
      ...onToken,
      { type: pkcs11.CKA_ENCRYPT, value: true },
      // RSA-2048: FIPS-mode HSMs refuse to generate RSA-1024.
      { type: pkcs11.CKA_MODULUS_BITS, value: 2048 },
      { type: pkcs11.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    ],
    [
      { type: pkcs11.CKA_TOKEN, value: token },
      ...onToken,
      // A session key may be public (gone with the session); a token key stays private and sensitive.
      { type: pkcs11.CKA_PRIVATE, value: token },
      ...(token ? [{ type: pkcs11.CKA_SENSITIVE, value: true }] : []),
      { type: pkcs11.CKA_DECRYPT, value: true },
    ],
  );
}

/**
 * Which decryption algorithms the token really performs. A mechanism list is not enough: SoftHSM2 2.6.1 lists
 * CKM_RSA_PKCS_OAEP but accepts only SHA-1 parameters (CKR_ARGUMENTS_BAD for SHA-256, facts §1). So each
 * candidate is tried once on a throwaway session key pair (CKA_TOKEN false: gone when the session closes), or on a
 * token key pair destroyed at once where the token refuses session objects.
 */
export function probeDecryption(
  lib: pkcs11.PKCS11,
  slot: pkcs11.Handle,
  mechanisms: ReadonlySet<number>,
): EncryptionAlgorithm['name'][] {
  const candidates = ENCRYPTION_ALGORITHMS.filter((a) => a.decrypt && mechanisms.has(a.decrypt.mechanism));
  if (candidates.length === 0 || !mechanisms.has(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN)) return [];
  const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION);
  // Only where session objects are refused: a read-write session for a token key pair (handles work in both).
  let rw: pkcs11.Handle | undefined;
  let onToken: pkcs11.KeyPair | undefined;
  try {
    let keys: pkcs11.KeyPair;
    try {
      keys = generateProbeKeys(lib, session, false);
    } catch {
      // tpm2-pkcs11 refuses session objects (CKA_TOKEN=false answers CKR_ATTRIBUTE_VALUE_INVALID): probe with a
      // token key pair instead, destroyed below. Its label is a key-pair label (`owner/version`), never an identity.
      rw = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
      for (const h of findObjects(lib, rw, [{ type: pkcs11.CKA_LABEL, value: PROBE_LABEL }])) {
        lib.C_DestroyObject(rw, h);
      }
      keys = generateProbeKeys(lib, rw, true);
      onToken = keys;
    }
    const plain = Buffer.from('p11bridge capability probe');
    return candidates
      .filter((a) => {
        const m = a.decrypt as NonNullable<EncryptionAlgorithm['decrypt']>;
        const mechanism = { mechanism: m.mechanism, parameter: m.parameter as pkcs11.IParams };
        try {
          lib.C_EncryptInit(session, mechanism, keys.publicKey);
          const ct = lib.C_Encrypt(session, plain, Buffer.alloc(256));
          lib.C_DecryptInit(session, mechanism, keys.privateKey);
          return lib.C_Decrypt(session, ct, Buffer.alloc(256)).equals(plain);
        } catch {
          return false;
        }
      })
      .map((a) => a.name);
  } catch {
    return [];
  } finally {
    try {
      if (rw && onToken) {
        lib.C_DestroyObject(rw, onToken.privateKey);
        lib.C_DestroyObject(rw, onToken.publicKey);
      }
      if (rw) lib.C_CloseSession(rw);
      lib.C_CloseSession(session);
    } catch {
      // Closing a probe session cannot fail in a way that matters.
    }
  }
}
