import * as pkcs11 from 'pkcs11js';
import { KEY_SPECS, type KeySpec, type KeySpecRow } from '../crypto/algorithms';
import { ecParamsFor } from '../crypto/keys';
import { findObjects } from './attributes';

/** The label of a probe key pair on a token that refuses session objects (an `owner/version` key-pair label). */
const PROBE_LABEL = 'p11bridge/curve-probe';

/** The standard EC key specs (not a vendor's SM2 profile): generated with CKM_EC_KEY_PAIR_GEN and a named curve. */
const EC_SPECS = KEY_SPECS.filter(
  (k): k is KeySpecRow & { curve: NonNullable<KeySpecRow['curve']> } =>
    k.generate?.mechanism === pkcs11.CKM_EC_KEY_PAIR_GEN && k.vendorProfile === undefined && k.curve !== undefined,
);

function generate(lib: pkcs11.PKCS11, session: pkcs11.Handle, params: Buffer, token: boolean): pkcs11.KeyPair {
  const onToken = token
    ? [
        { type: pkcs11.CKA_LABEL, value: PROBE_LABEL },
        { type: pkcs11.CKA_PRIVATE, value: true },
        { type: pkcs11.CKA_SENSITIVE, value: true },
      ]
    : [];
  return lib.C_GenerateKeyPair(
    session,
    { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
    [
      { type: pkcs11.CKA_TOKEN, value: token },
      { type: pkcs11.CKA_EC_PARAMS, value: params },
      { type: pkcs11.CKA_VERIFY, value: true },
      ...(token ? [{ type: pkcs11.CKA_LABEL, value: PROBE_LABEL }] : []),
    ],
    [{ type: pkcs11.CKA_TOKEN, value: token }, { type: pkcs11.CKA_SIGN, value: true }, ...onToken],
  );
}

/**
 * Which standard EC key specs the token really generates. Listing CKM_EC_KEY_PAIR_GEN says nothing of the curves:
 * tpm2-pkcs11 1.9 on swtpm makes P-256 and P-384 keys but answers CKR_VENDOR_DEFINED for secp256k1 (the TPM has
 * no such curve), NSS 3.87's softoken CKR_DOMAIN_PARAMS_INVALID. So each curve is tried once, on a throwaway
 * session key pair, or a token key pair destroyed at once where session objects are refused (tpm2-pkcs11), and a
 * spec the token cannot make is answered as unsupported (never a 500 at CreateKey).
 */
export function probeEcKeySpecs(lib: pkcs11.PKCS11, slot: pkcs11.Handle, mechanisms: ReadonlySet<number>): KeySpec[] {
  if (!mechanisms.has(pkcs11.CKM_EC_KEY_PAIR_GEN)) return [];
  const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
  const destroy = (keys: pkcs11.KeyPair): void => {
    for (const h of [keys.privateKey, keys.publicKey]) {
      try {
        lib.C_DestroyObject(session, h);
      } catch {
        // A session object goes with the session anyway.
      }
    }
  };
  try {
    // A probe key pair a crash left behind is removed first (its label is never an identity's).
    for (const h of findObjects(lib, session, [{ type: pkcs11.CKA_LABEL, value: PROBE_LABEL }])) {
      lib.C_DestroyObject(session, h);
    }
    return EC_SPECS.filter((k) => {
      const params = ecParamsFor(k.curve);
      for (const token of [false, true]) {
        try {
          destroy(generate(lib, session, params, token));
          return true;
        } catch {
          // Session objects refused (tpm2-pkcs11: CKR_ATTRIBUTE_VALUE_INVALID), or the curve: try as a token object.
        }
      }
      return false;
    }).map((k) => k.spec);
  } finally {
    try {
      lib.C_CloseSession(session);
    } catch {
      // Closing a probe session cannot fail in a way that matters.
    }
  }
}
