import * as pkcs11 from 'pkcs11js';
import { findObjects, getAttributes, readUlong } from './attributes';
import { ckrName, ckrOf, isChangedUnderneath } from './ckr';
import { KMS_KEY_APPLICATION, METADATA_APPLICATION } from './metadata';

/**
 * The raw objects the key index is built from, read in a PKCS#11 thread (synchronous calls: never on the event
 * loop). Each object's attributes are read on their own, so one unreadable object is reported and skipped instead
 * of failing the whole read; the index (keyIndex.ts) is a pure function of these records.
 */
export interface RawObject {
  readonly handle: Buffer;
  /** Attribute type → raw value, for the attributes this class needs (absent when the token has none). */
  readonly attrs: Record<number, Buffer>;
}

export interface RawObjects {
  readonly certificates: RawObject[];
  readonly metadata: RawObject[];
  /** KMS key records (CKO_DATA, CKA_APPLICATION `p11bridge-kms-key`); parsed by src/identities/keys. */
  readonly kmsKeys: RawObject[];
  readonly publicKeys: RawObject[];
  readonly privateKeys: RawObject[];
  /** Objects that could not be read, with the reason (for the log). */
  readonly unreadable: string[];
}

/** Reads every object of the classes the index uses (optionally only those labelled `label`). */
export function readObjects(lib: pkcs11.PKCS11, session: pkcs11.Handle, label?: string): RawObjects {
  const unreadable: string[] = [];
  const byLabel = label === undefined ? [] : [{ type: pkcs11.CKA_LABEL, value: label }];
  /** `required` must read; `optional(attrs)` names what else to try once they are known (absent when refused). */
  const read = (
    template: pkcs11.Template,
    required: number[],
    optional: (attrs: Record<number, Buffer>) => number[] = () => [],
  ): RawObject[] =>
    findObjects(lib, session, [...template, ...byLabel]).flatMap((handle) => {
      const attrs: Record<number, Buffer> = {};
      try {
        for (const [type, value] of readRequired(lib, session, handle, required)) attrs[type] = value;
      } catch (e) {
        unreadable.push(`object ${handle.toString('hex')}: ${unreadableReason(e)}`);
        return [];
      }
      for (const type of optional(attrs)) {
        try {
          for (const [t, value] of getAttributes(lib, session, handle, [type])) attrs[t] = value;
        } catch {
          // Not every key stores every attribute (a vendor SM2 key without CKA_EC_PARAMS): the index decides.
        }
      }
      return [{ handle, attrs }];
    });
  const isRsa = (a: Record<number, Buffer>): boolean => readUlong(a[pkcs11.CKA_KEY_TYPE]) === pkcs11.CKK_RSA;
  return {
    certificates: read(
      [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
        { type: pkcs11.CKA_CERTIFICATE_TYPE, value: pkcs11.CKC_X_509 },
      ],
      [pkcs11.CKA_LABEL, pkcs11.CKA_ID, pkcs11.CKA_VALUE],
    ),
    metadata: read(
      [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_APPLICATION, value: METADATA_APPLICATION },
      ],
      [pkcs11.CKA_LABEL, pkcs11.CKA_VALUE],
    ),
    kmsKeys: read(
      [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_APPLICATION, value: KMS_KEY_APPLICATION },
      ],
      [pkcs11.CKA_LABEL, pkcs11.CKA_VALUE],
    ),
    publicKeys: read(
      [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY }],
      [pkcs11.CKA_LABEL, pkcs11.CKA_ID, pkcs11.CKA_KEY_TYPE],
      (a) => (isRsa(a) ? [] : [pkcs11.CKA_EC_POINT]),
    ),
    privateKeys: read(
      [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY }],
      [
        pkcs11.CKA_LABEL,
        pkcs11.CKA_ID,
        pkcs11.CKA_KEY_TYPE,
        pkcs11.CKA_SENSITIVE,
        pkcs11.CKA_EXTRACTABLE,
        pkcs11.CKA_SIGN,
        pkcs11.CKA_DECRYPT,
      ],
      (a) => (isRsa(a) ? [pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT] : [pkcs11.CKA_EC_PARAMS]),
    ),
    unreadable,
  };
}

/**
 * How many times an object that changed while it was read is read again before it is skipped. The patched
 * pkcs11js (patches/) already repeats its own pair of calls a few times within microseconds; these reads come
 * after that, in case another application is still writing the object.
 */
const CHANGED_OBJECT_READS = 3;

/** The required attributes of one object, read again when the object changed underneath the read. */
function readRequired(
  lib: pkcs11.PKCS11,
  session: pkcs11.Handle,
  handle: pkcs11.Handle,
  required: readonly number[],
): Map<number, Buffer> {
  for (let read = 1; ; read++) {
    try {
      return getAttributes(lib, session, handle, required);
    } catch (e) {
      if (!isChangedUnderneath(e) || read >= CHANGED_OBJECT_READS) throw e;
    }
  }
}

/** Why an object was skipped, for the log (the CKR name; no attribute value). */
function unreadableReason(e: unknown): string {
  const code = ckrOf(e);
  if (code === undefined) return e instanceof Error ? e.message : String(e);
  const changed = isChangedUnderneath(e) ? ' (it changed while it was read: another application is writing it)' : '';
  return `${ckrName(code)}${changed}`;
}
