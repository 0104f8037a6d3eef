import * as pkcs11 from 'pkcs11js';
import type { Logger } from '../observability/logger';
import { buildIndex, type KeyEntry } from './keyIndex';
import type { RawObjects } from './objectReader';
import type { Sm2Profile } from '../crypto/algorithms';

/** A data object as the identities layer reads it: its label and raw value (KMS key records). */
export interface DataRecord {
  readonly label: string;
  readonly value: Buffer;
}

/** What one read of the token yields: certificate identities, other key pairs by label, and KMS key records. */
export interface DirectoryContent {
  readonly entries: Map<string, KeyEntry>;
  readonly keyPairs: Map<string, KeyEntry>;
  readonly kmsKeys: readonly DataRecord[];
}

/**
 * The key index of one token as the request path sees it: a map in memory, replaced whole by each re-read
 * (single-flight, in a PKCS#11 thread). Lookups never touch the token; misses and the periodic refresh ask for a
 * re-read in the background. Log lines about skipped or refused objects are written when they first appear, not
 * at every refresh.
 */
export class KeyDirectory {
  readonly #log: Logger;
  readonly #read: () => Promise<DirectoryContent>;
  #entries = new Map<string, KeyEntry>();
  #keyPairs = new Map<string, KeyEntry>();
  #kmsKeys: readonly DataRecord[] = [];
  #lastRefresh = 0;
  #refreshing: Promise<void> | undefined;
  #reported = new Set<string>();

  constructor(log: Logger, read: () => Promise<DirectoryContent>) {
    this.#log = log;
    this.#read = read;
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
  /** Milliseconds since the last completed re-read. */
  age(): number {
    return Date.now() - this.#lastRefresh;
  }

  /** Re-reads the index now (single-flight: callers during a read share it). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#read()
      .then((content) => {
        this.#entries = content.entries;
        this.#keyPairs = content.keyPairs;
        this.#kmsKeys = content.kmsKeys;
        this.#lastRefresh = Date.now();
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** Asks for a re-read in the background (failures are logged, the old index keeps serving). */
  refreshSoon(): void {
    if (this.#refreshing) return;
    this.refresh().catch((e: unknown) => {
      this.#log.warn({ err: e instanceof Error ? e.message : String(e) }, 'key index refresh failed');
    });
  }

  /** Builds entries from raw objects and logs what is new among the skipped, refused and insecure objects. */
  build(
    raw: RawObjects,
    opts: { refuseInsecure: boolean; sm2?: Sm2Profile; insecurePolicy: 'refuse' | 'warn' },
  ): DirectoryContent {
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
    const kmsKeys = raw.kmsKeys.map((o) => ({
      label: (o.attrs[pkcs11.CKA_LABEL] ?? Buffer.alloc(0)).toString('utf8'),
      value: o.attrs[pkcs11.CKA_VALUE] ?? Buffer.alloc(0),
    }));
    return { entries: result.entries, keyPairs: result.keyPairs, kmsKeys };
  }
}
