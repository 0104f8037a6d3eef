import * as pkcs11 from 'pkcs11js';
import type { KeyEntry } from './keyIndex';
import { METADATA_APPLICATION } from './metadata';
import { storeCertificate } from './objects';
import type { TokenManager } from './tokenManager';

/**
 * The PKCS#11 objects of one certificate identity (src/identities/certificates/ owns the lifecycle that decides
 * when): its key pair, its certificate, the chain certificates stored for it and its metadata data object. Found by
 * label and CKA_ID so that an object of another identity sharing only one of them is never touched.
 */

/** Label prefix of the chain certificates stored for an identifier (`<id>/chain/0`, `<id>/chain/1`, …). */
function chainLabelPrefix(id: string): string {
  return `${id}/chain/`;
}

/** Handles as map keys: pkcs11js handles are Buffers. */
const key = (h: pkcs11.Handle): string => h.toString('hex');

function allCertificateHandles(token: TokenManager): Promise<string[]> {
  return token.admin(async (session, lib) =>
    (await lib.findObjects(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE }])).map(key),
  );
}

/**
 * The certificate objects of an identity, exactly: its own certificate (the entry's handle, or the certificate
 * labelled with the identifier and carrying its CKA_ID) and the chain certificates stored for it (`<id>/chain/N`,
 * no CKA_ID). Another identity's certificate that happens to share the label or the CKA_ID is never included.
 */
function certificateObjects(token: TokenManager, id: string, ckaId: Buffer): Promise<string[]> {
  const prefix = chainLabelPrefix(id);
  return token.admin(async (session, lib) => {
    const out: string[] = [];
    for (const h of await lib.findObjects(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE }])) {
      const a = await lib.getAttributes(session, h, [pkcs11.CKA_LABEL, pkcs11.CKA_ID]);
      const label = (a.get(pkcs11.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8');
      const objectId = a.get(pkcs11.CKA_ID) ?? Buffer.alloc(0);
      const own = label === id && (ckaId.length === 0 || objectId.equals(ckaId));
      const chain = label.startsWith(prefix) && objectId.length === 0;
      if (own || chain) out.push(key(h));
    }
    return out;
  });
}

function destroyHandles(token: TokenManager, handles: readonly string[]): Promise<void> {
  if (handles.length === 0) return Promise.resolve();
  return token.admin(async (session, lib) => {
    for (const h of handles) await lib.C_DestroyObject(session, Buffer.from(h, 'hex'));
  });
}

/**
 * Stores the certificate of an identity and its chain (nearest issuer first), replacing the ones it had (renewal):
 * the new objects are written first, then the old ones destroyed, so the identity is never without a certificate.
 * A failed write destroys what it wrote and leaves the old objects. Returns true when old objects were replaced.
 */
export async function replaceCertificates(
  token: TokenManager,
  id: string,
  ckaId: Buffer,
  leaf: Buffer,
  chain: readonly Buffer[],
): Promise<boolean> {
  const previous = await certificateObjects(token, id, ckaId);
  const before = new Set(await allCertificateHandles(token));
  try {
    await storeCertificate(token, id, ckaId, leaf);
    // Chain certificates carry no CKA_ID: the index treats them as chain material, never as an identity.
    for (const [i, der] of chain.entries()) {
      await storeCertificate(token, `${chainLabelPrefix(id)}${i}`, Buffer.alloc(0), der);
    }
  } catch (e) {
    try {
      await destroyHandles(
        token,
        (await allCertificateHandles(token)).filter((h) => !before.has(h)),
      );
    } catch {
      // Keep the original error; a stray chain object is harmless chain material.
    }
    throw e;
  }
  await destroyHandles(token, previous);
  return previous.length > 0;
}

/**
 * Destroys exactly the objects of one identity, in a safe order: private key, public key, certificates (own and
 * chain), metadata. Keys are the ones with the identity's CKA_ID and label (or the index entry's handles); an
 * object of another identity that shares only the label or only the CKA_ID is left alone. Returns the number of
 * objects destroyed.
 */
export async function destroyIdentityObjects(
  token: TokenManager,
  id: string,
  ckaId: Buffer,
  entry: KeyEntry | undefined,
): Promise<number> {
  const byClass = (cls: number): Promise<string[]> =>
    token.admin(async (session, lib) =>
      (
        await lib.findObjects(session, [
          { type: pkcs11.CKA_CLASS, value: cls },
          ...(ckaId.length > 0 ? [{ type: pkcs11.CKA_ID, value: ckaId }] : []),
          { type: pkcs11.CKA_LABEL, value: id },
        ])
      ).map(key),
    );
  const privateKeys = new Set(await byClass(pkcs11.CKO_PRIVATE_KEY));
  if (entry) privateKeys.add(key(entry.privateKey));
  const publicKeys = new Set(await byClass(pkcs11.CKO_PUBLIC_KEY));
  if (entry?.publicKeyHandle) publicKeys.add(key(entry.publicKeyHandle));
  const certificates = new Set(await certificateObjects(token, id, ckaId));
  if (entry?.certificateHandle) certificates.add(key(entry.certificateHandle));
  const ordered = [...privateKeys, ...publicKeys, ...certificates];
  await destroyHandles(token, ordered);
  // The metadata last, wherever it is kept (on the token or in its record file, src/token/records/).
  return ordered.length + (await token.records.remove(METADATA_APPLICATION, id));
}
