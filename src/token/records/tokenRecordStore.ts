import * as pkcs11 from 'pkcs11js';
import { describeFault } from '../ckr';
import { METADATA_APPLICATION } from '../metadata';
import type { RawObjects } from '../objectReader';
import type { AdminRunner, RecordStore } from './recordStore';

const dataObject = (application: string, label: string): pkcs11.Template => [
  { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
  { type: pkcs11.CKA_APPLICATION, value: application },
  { type: pkcs11.CKA_LABEL, value: label },
];

/**
 * Records as private CKO_DATA objects on the token (`metadataStore: token`, decision 0013): every daemon in front
 * of the same HSM sees the same state without a database. The index's object read (objectReader.ts) already
 * returns them, so `overlay` has nothing to add.
 */
export class TokenRecordStore implements RecordStore {
  readonly description = 'data objects on the token';
  readonly #admin: AdminRunner;

  constructor(admin: AdminRunner) {
    this.#admin = admin;
  }

  overlay(raw: RawObjects): Promise<RawObjects> {
    return Promise.resolve(raw);
  }

  /**
   * SoftHSM2 2.6.1 refuses C_SetAttributeValue on a data object's CKA_VALUE (CKR_ATTRIBUTE_READ_ONLY), so a change
   * is a new object followed by the old one's destruction: created first, so that the identity always has a record
   * (an identity without one is refused), and a daemon indexing in between sees two objects for a moment (refused
   * as ambiguous, never resolved by order).
   */
  put(application: string, label: string, value: Buffer): Promise<void> {
    return this.#admin(async (session, lib) => {
      const previous = await lib.findObjects(session, dataObject(application, label));
      await lib.C_CreateObject(session, [
        ...dataObject(application, label),
        { type: pkcs11.CKA_TOKEN, value: true },
        // Private: only a logged-in application reads or changes lifecycle state.
        { type: pkcs11.CKA_PRIVATE, value: true },
        { type: pkcs11.CKA_VALUE, value },
      ]);
      for (const h of previous) await lib.C_DestroyObject(session, h);
    });
  }

  remove(application: string, label: string): Promise<number> {
    return this.#admin(async (session, lib) => {
      const handles = await lib.findObjects(session, dataObject(application, label));
      for (const h of handles) await lib.C_DestroyObject(session, h);
      return handles.length;
    });
  }

  /** Tried with a session object (CKA_TOKEN=false, gone with the session): NSS's softoken refuses every CKO_DATA. */
  refusal(): Promise<string | undefined> {
    return this.#admin(async (session, lib) => {
      try {
        const h = await lib.C_CreateObject(session, [
          ...dataObject(METADATA_APPLICATION, 'p11bridge data object probe'),
          { type: pkcs11.CKA_TOKEN, value: false },
          { type: pkcs11.CKA_PRIVATE, value: true },
          { type: pkcs11.CKA_VALUE, value: Buffer.from('{}') },
        ]);
        await lib.C_DestroyObject(session, h);
        return undefined;
      } catch (e) {
        return (
          `the token cannot store data objects (C_CreateObject of a CKO_DATA object: ${describeFault(e)}), where ` +
          "p11bridge keeps each identity's lifecycle metadata and each KMS key record: set metadataStore: file " +
          'for this token (decision 0031)'
        );
      }
    });
  }
}
