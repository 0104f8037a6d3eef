import type * as pkcs11 from 'pkcs11js';
import type { RawObjects } from '../objectReader';
import type { RemoteLib } from '../remoteLib';

/** Runs a call sequence on the token's logged-in admin session, one sequence at a time (TokenManager.admin). */
export type AdminRunner = <T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>) => Promise<T>;

/**
 * Where a token's records live: each certificate identity's lifecycle metadata (CKA_APPLICATION `p11bridge`) and
 * each KMS key record (`p11bridge-kms-key`), one record per (application, label). On the token as private data
 * objects (tokenRecordStore.ts, the default), or in a file whose records the token authenticates
 * (fileRecordStore.ts, `metadataStore: file`, decision 0031) for tokens that refuse data objects. Either way the
 * index reads them as raw objects (CKA_LABEL, CKA_VALUE) and refuses an identity whose record is missing, damaged
 * or duplicated: fail closed (decision 0012).
 */
export interface RecordStore {
  /** Where the records are, for operators (provision, `slots`). */
  readonly description: string;
  /**
   * The token's raw objects with this store's records as `metadata` and `kmsKeys` (only those labelled `label`
   * when given). A record that does not authenticate is passed with an empty value: the index calls it damaged.
   */
  overlay(raw: RawObjects, label?: string): Promise<RawObjects>;
  /** Replaces the record (application, label) with one holding `value`. */
  put(application: string, label: string, value: Buffer): Promise<void>;
  /** Removes the records (application, label); returns how many there were. */
  remove(application: string, label: string): Promise<number>;
  /**
   * Undefined when records can be kept (tried, and made ready: the file store makes its token key here), else why
   * not. Provision asks before it makes any key: a token that cannot hold the records would keep unusable keys.
   */
  refusal(): Promise<string | undefined>;
}
