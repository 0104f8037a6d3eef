import { X509Certificate, type KeyObject } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/cli/softhsm';
import { ecSpki, publicKeyFromSpki, rsaSpki } from '../../src/crypto/keys';

/** A public key object on the token, for forensics: which key made a signature. */
export interface TokenPublicKey {
  readonly label: string;
  /** CKA_ID in hex. */
  readonly id: string;
  readonly key: KeyObject;
}

/**
 * SoftHSM2 driven with pkcs11js straight from the test process, not through the daemon's token layer: a second
 * application on the same token, as an operator's tool or another daemon would be. Each use initialises the
 * library and finalises it again, because SoftHSM2 sees changes another process made to its token store (a
 * re-initialised token) only at C_Initialize.
 */
export class DirectToken {
  readonly #lib = new pkcs11.PKCS11();

  constructor() {
    this.#lib.load(SOFTHSM_MODULE);
  }

  /** Runs `fn` in a R/W session logged in as the user on the token with this label. */
  use<T>(label: string, pin: string, fn: (lib: pkcs11.PKCS11, session: pkcs11.Handle) => T): T {
    const lib = this.#lib;
    lib.C_Initialize({ flags: pkcs11.CKF_OS_LOCKING_OK });
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label);
      if (!slot) throw new Error(`no token labelled ${label}`);
      const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
      lib.C_Login(session, pkcs11.CKU_USER, pin);
      return fn(lib, session);
    } finally {
      lib.C_Finalize();
    }
  }

  /** The labels of every certificate object on the token (a diagnosis when one is not found). */
  certificateLabels(lib: pkcs11.PKCS11, session: pkcs11.Handle): string[] {
    return find(lib, session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE }]).map((h) =>
      String(lib.C_GetAttributeValue(session, h, [{ type: pkcs11.CKA_LABEL }])[0]?.value ?? ''),
    );
  }

  /** The public key of the certificate labelled `id` (read from CKA_VALUE, parsed by node:crypto). */
  certificateKeys(label: string, pin: string, ids: readonly string[]): Map<string, KeyObject> {
    return this.use(label, pin, (lib, session) => {
      const out = new Map<string, KeyObject>();
      for (const id of ids) {
        const [h] = find(lib, session, [
          { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
          { type: pkcs11.CKA_LABEL, value: id },
        ]);
        if (h === undefined) throw new Error(`no certificate labelled ${id}`);
        const [value] = lib.C_GetAttributeValue(session, h, [{ type: pkcs11.CKA_VALUE }]);
        out.set(id, new X509Certificate(value?.value as Buffer).publicKey);
      }
      return out;
    });
  }

  /**
   * Every public key object on the token (RSA and EC), with its label: the keys of every identity, the CA's, and
   * any key pair a provisioning left without its certificate.
   */
  publicKeys(label: string, pin: string): TokenPublicKey[] {
    return this.use(label, pin, (lib, session) =>
      find(lib, session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY }]).map((h) => {
        const [l, id, type] = lib.C_GetAttributeValue(session, h, [
          { type: pkcs11.CKA_LABEL },
          { type: pkcs11.CKA_ID },
          { type: pkcs11.CKA_KEY_TYPE },
        ]);
        const rsa = (type?.value as Buffer).readUInt32LE(0) === pkcs11.CKK_RSA;
        const v = lib.C_GetAttributeValue(
          session,
          h,
          rsa
            ? [{ type: pkcs11.CKA_MODULUS }, { type: pkcs11.CKA_PUBLIC_EXPONENT }]
            : [{ type: pkcs11.CKA_EC_PARAMS }, { type: pkcs11.CKA_EC_POINT }],
        );
        const [a, b] = v.map((x) => x.value as Buffer) as [Buffer, Buffer];
        return {
          label: (l?.value as Buffer).toString('utf8'),
          id: (id?.value as Buffer).toString('hex'),
          key: publicKeyFromSpki(rsa ? rsaSpki(a, b) : ecSpki(a, b)),
        };
      }),
    );
  }

  close(): void {
    this.#lib.close();
  }
}

/** Every object matching a template. */
export function find(lib: pkcs11.PKCS11, session: pkcs11.Handle, template: pkcs11.Template): pkcs11.Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    const out: pkcs11.Handle[] = [];
    for (;;) {
      const batch = lib.C_FindObjects(session, 32);
      if (batch.length === 0) return out;
      out.push(...batch);
    }
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}
