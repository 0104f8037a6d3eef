import * as pkcs11 from 'pkcs11js';
import type { Sm2Profile } from '../crypto/algorithms';
import type { Logger } from '../observability/logger';
import { buildIndex, type KeyEntry } from './keyIndex';
import type { RawObject, RawObjects } from './objectReader';

/** A data object as the identities layer reads it: its label and raw value (KMS key records). */
export interface DataRecord {
  readonly label: string;
  readonly value: Buffer;
}

export interface DirectoryOptions {
  readonly refuseInsecure: boolean;
  readonly sm2?: Sm2Profile;
  readonly insecurePolicy: 'refuse' | 'warn';
}

/**
 * The key index of one token as the request path sees it: a map in memory, rebuilt from the token's raw objects.
 * Lookups never touch the token. Reads run one at a time in a PKCS#11 thread: a full read (start, the periodic
 * refresh, a miss), or the objects of ONE identity (after a lifecycle change here or in a sibling process), merged
 * into the last full read. Log lines about skipped or refused objects are written when they first appear.
 */
export class KeyDirectory {
  readonly #log: Logger;
  readonly #read: (label?: string) => Promise<RawObjects>;
  readonly #opts: () => DirectoryOptions;
  #entries = new Map<string, KeyEntry>();
  #keyPairs = new Map<string, KeyEntry>();
  #kmsKeys: readonly DataRecord[] = [];
  #raw: RawObjects | undefined;
  #lastRefresh = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #fullPending: Promise<void> | undefined;
  #reported = new Set<string>();

  constructor(log: Logger, read: (label?: string) => Promise<RawObjects>, opts: () => DirectoryOptions) {
    this.#log = log;
    this.#read = read;
    this.#opts = opts;
  }

  get size(): number {
    return this.#entries.size;
  }
  get(id: string): KeyEntry | undefined {
    return this.#entries.get(id);
  }
  entries(): KeyEntry[] {
    return [...this.#entries.values()];
  }
  /** A key pair that is not a certificate identity (a KMS key version), by CKA_LABEL. */
  keyPair(label: string): KeyEntry | undefined {
    return this.#keyPairs.get(label);
  }
  /** The KMS key records as last read (label and raw value). */
  kmsKeys(): readonly DataRecord[] {
    return this.#kmsKeys;
  }
  /** Milliseconds since the last completed full read. */
  age(): number {
    return Date.now() - this.#lastRefresh;
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Re-reads every object now. Callers that ask while a full read waits in the queue share it. */
  refresh(): Promise<void> {
    this.#fullPending ??= this.#enqueue(async () => {
      this.#fullPending = undefined;
      const raw = await this.#read();
      this.#apply(raw);
      this.#lastRefresh = Date.now();
    });
    return this.#fullPending;
  }

  /**
   * Re-reads the objects labelled `id` (its keys, certificate and metadata) and rebuilds the index with them in
   * place of the old ones; before any full read it is a full read. Chain certificates are not re-read (a new
   * chain, from UploadCertificate, asks for a full read).
   */
  refreshIdentity(id: string): Promise<void> {
    if (!this.#raw) return this.refresh();
    return this.#enqueue(async () => {
      const fresh = await this.#read(id);
      const base = this.#raw as RawObjects;
      const keep = (list: readonly RawObject[]): RawObject[] =>
        list.filter((o) => o.attrs[pkcs11.CKA_LABEL]?.toString('utf8') !== id);
      this.#apply({
        certificates: [...keep(base.certificates), ...fresh.certificates],
        metadata: [...keep(base.metadata), ...fresh.metadata],
        kmsKeys: [...keep(base.kmsKeys), ...fresh.kmsKeys],
        publicKeys: [...keep(base.publicKeys), ...fresh.publicKeys],
        privateKeys: [...keep(base.privateKeys), ...fresh.privateKeys],
        unreadable: fresh.unreadable,
      });
    });
  }

  /** Asks for a read in the background (failures are logged, the old index keeps serving). */
  refreshSoon(id?: string): void {
    if (id === undefined && this.#fullPending) return;
    (id === undefined ? this.refresh() : this.refreshIdentity(id)).catch((e: unknown) => {
      this.#log.warn({ err: e instanceof Error ? e.message : String(e) }, 'key index refresh failed');
    });
  }

  /** Builds entries from raw objects and logs what is new among the skipped, refused and insecure objects. */
  #apply(raw: RawObjects): void {
    const opts = this.#opts();
    const result = buildIndex(raw, opts);
    const now = new Set<string>();
    for (const k of result.insecure) {
      const line = `insecure:${k.label}`;
      now.add(line);
      if (this.#reported.has(line)) continue;
      this.#log.warn(
        { key: k.label, sensitive: k.sensitive, extractable: k.extractable, policy: opts.insecurePolicy },
        opts.insecurePolicy === 'refuse'
          ? 'refusing a private key that is extractable or not sensitive: private keys never leave hardware'
          : 'serving a private key that is extractable or not sensitive (insecureKeys: warn)',
      );
    }
    for (const s of result.skipped) {
      now.add(s);
      if (!this.#reported.has(s)) this.#log.warn({ reason: s }, 'token object skipped or identity refused');
    }
    this.#reported = now;
    this.#raw = raw;
    this.#entries = result.entries;
    this.#keyPairs = result.keyPairs;
    this.#kmsKeys = raw.kmsKeys.map((o) => ({
      label: (o.attrs[pkcs11.CKA_LABEL] ?? Buffer.alloc(0)).toString('utf8'),
      value: o.attrs[pkcs11.CKA_VALUE] ?? Buffer.alloc(0),
    }));
  }
}
