import * as pkcs11 from 'pkcs11js';
import { ENCRYPTION_ALGORITHMS, type EncryptionAlgorithm } from '../crypto/algorithms';

/**
 * Which decryption algorithms the token really performs. A mechanism list is not enough: SoftHSM2 2.6.1 lists
 * CKM_RSA_PKCS_OAEP but accepts only SHA-1 parameters (CKR_ARGUMENTS_BAD for SHA-256, facts §1). So each
 * candidate is tried once on a throwaway session key pair (CKA_TOKEN false: gone when the session closes).
 */
export function probeDecryption(
  lib: pkcs11.PKCS11,
  slot: pkcs11.Handle,
  mechanisms: ReadonlySet<number>,
): EncryptionAlgorithm['name'][] {
  const candidates = ENCRYPTION_ALGORITHMS.filter((a) => a.decrypt && mechanisms.has(a.decrypt.mechanism));
  if (candidates.length === 0 || !mechanisms.has(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN)) return [];
  const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION);
  try {
    const keys = lib.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN },
      [
        { type: pkcs11.CKA_TOKEN, value: false },
        { type: pkcs11.CKA_ENCRYPT, value: true },
        // RSA-2048: FIPS-mode HSMs refuse to generate RSA-1024.
        { type: pkcs11.CKA_MODULUS_BITS, value: 2048 },
        { type: pkcs11.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      ],
      [
        { type: pkcs11.CKA_TOKEN, value: false },
        { type: pkcs11.CKA_PRIVATE, value: false },
        { type: pkcs11.CKA_DECRYPT, value: true },
      ],
    );
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
      lib.C_CloseSession(session);
    } catch {
      // Closing a probe session cannot fail in a way that matters.
    }
  }
}
