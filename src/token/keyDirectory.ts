import type { Logger } from '../observability/logger';
import { buildIndex, type KeyEntry } from './keyIndex';
import type { RawObjects } from './objectReader';
import type { Sm2Profile } from '../crypto/algorithms';

/**
 * The key index of one token as the request path sees it: a map in memory, replaced whole by each re-read
 * (single-flight, in a PKCS#11 thread). Lookups never touch the token; misses and the periodic refresh ask for a
 * re-read in the background. Log lines about skipped or refused objects are written when they first appear, not
 * at every refresh.
 */
export class KeyDirectory {
  readonly #log: Logger;
  readonly #read: () => Promise<Map<string, KeyEntry>>;
  #entries = new Map<string, KeyEntry>();
  #lastRefresh = 0;
  #refreshing: Promise<void> | undefined;
  #reported = new Set<string>();

  constructor(log: Logger, read: () => Promise<Map<string, KeyEntry>>) {
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
  /** Milliseconds since the last completed re-read. */
  age(): number {
    return Date.now() - this.#lastRefresh;
  }

  /** Re-reads the index now (single-flight: callers during a read share it). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#read()
      .then((entries) => {
        this.#entries = entries;
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
  ): Map<string, KeyEntry> {
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
    return result.entries;
  }
}
