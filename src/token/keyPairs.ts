import * as pkcs11 from 'pkcs11js';
import { readBool } from './attributes';
import type { TokenManager } from './tokenManager';

/** How an operator names an existing key pair: its CKA_LABEL or its CKA_ID. */
export type KeyPairRef = { readonly label: string } | { readonly ckaId: Buffer };

/** A private key's addressing and policy attributes, read straight from the token (not from the index). */
export interface PrivateKeyFacts {
  readonly label: string;
  readonly ckaId: Buffer;
  readonly sensitive: boolean;
  readonly extractable: boolean;
}

/**
 * Every private key `ref` names, with its policy attributes read from the token: the index leaves out keys the
 * policy refuses, and an operator deserves to hear why such a key cannot be adopted.
 */
export function findPrivateKeys(token: TokenManager, ref: KeyPairRef): Promise<PrivateKeyFacts[]> {
  return token.admin(async (session, lib) => {
    const by =
      'label' in ref ? { type: pkcs11.CKA_LABEL, value: ref.label } : { type: pkcs11.CKA_ID, value: ref.ckaId };
    const handles = await lib.findObjects(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY }, by]);
    const out: PrivateKeyFacts[] = [];
    for (const h of handles) {
      const a = await lib.getAttributes(session, h, [
        pkcs11.CKA_LABEL,
        pkcs11.CKA_ID,
        pkcs11.CKA_SENSITIVE,
        pkcs11.CKA_EXTRACTABLE,
      ]);
      out.push({
        label: (a.get(pkcs11.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8'),
        ckaId: a.get(pkcs11.CKA_ID) ?? Buffer.alloc(0),
        sensitive: readBool(a.get(pkcs11.CKA_SENSITIVE)),
        extractable: readBool(a.get(pkcs11.CKA_EXTRACTABLE)),
      });
    }
    return out;
  });
}

/**
 * Gives the private and public key objects of one key pair a new CKA_LABEL (C_SetAttributeValue on CKA_LABEL
 * only: the key material, CKA_ID and every other attribute stay as they are). Private key first, as everywhere.
 */
export async function relabelKeyPair(
  token: TokenManager,
  handles: { privateKey: pkcs11.Handle; publicKey: pkcs11.Handle | undefined },
  label: string,
): Promise<void> {
  await token.admin(async (session, lib) => {
    for (const h of [handles.privateKey, handles.publicKey]) {
      if (h) await lib.call('C_SetAttributeValue', [session, h, [{ type: pkcs11.CKA_LABEL, value: label }]]);
    }
  });
}
