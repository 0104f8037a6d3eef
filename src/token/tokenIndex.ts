import { setTimeout as delay } from 'node:timers/promises';
import type { TokenConfig } from '../config/schema';
import type { Logger } from '../observability/logger';
import { TokenFault } from './faults';
import { KeyDirectory, type DataRecord } from './keyDirectory';
import type { KeyEntry } from './keyIndex';
import type { RawObjects } from './objectReader';
import type { TokenStatus } from './tokenState';

/** Reads of a just-generated identity before its absence is a fault (25, 50, 100 ms apart). */
const NEW_OBJECT_READS = 4;

/** A lookup miss re-reads the index in the background at most this often. */
const MISS_REFRESH_MS = 1000;

/**
 * The key index of one token as requests see it, and when it is re-read: lookups answer from memory; a miss, the
 * periodic timer and a sibling's change ask for a read in the background; a change made here re-reads what it
 * changed before it returns. The reading and merging itself is the KeyDirectory's.
 */
export class TokenIndex {
  readonly #status: TokenStatus;
  readonly #keys: KeyDirectory;
  readonly #refreshEveryMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** Told after this process changed the token's objects: cluster workers pass it on to their siblings. */
  onChanged: ((id?: string) => void) | undefined;

  constructor(config: TokenConfig, status: TokenStatus, log: Logger, read: (label?: string) => Promise<RawObjects>) {
    this.#status = status;
    this.#refreshEveryMs = config.indexRefreshMs;
    this.#keys = new KeyDirectory(log, read, () => ({
      refuseInsecure: config.insecureKeys === 'refuse',
      ...(config.sm2 ? { sm2: config.sm2 } : {}),
      insecurePolicy: config.insecureKeys,
    }));
  }

  /** Identities in the index. */
  get size(): number {
    return this.#keys.size;
  }

  /** Reads every object now (connect, the stale-handle rung); no state check: the token may not serve yet. */
  read(): Promise<void> {
    return this.#keys.refresh();
  }

  /** Re-reads the whole key index now (a full read in a PKCS#11 thread). */
  async refreshIndex(): Promise<void> {
    this.#status.assertServing();
    await this.#keys.refresh();
  }

  /** Re-reads the objects of one identity (before a lifecycle change: another daemon may have changed it). */
  async refreshIdentity(id: string): Promise<void> {
    this.#status.assertServing();
    await this.#keys.refreshIdentity(id);
  }

  /**
   * Re-reads an identity whose key pair this process has just generated, until the index holds it. A token whose
   * store another process rewrites may list a new object a moment late (SoftHSM2 2.6.1 hid a sibling's new objects
   * for good until the write turns of decision 0032; not seen for a process's own objects, so this is a guard).
   * Still missing after the tries: the token is not serving it, a 503; never `NotFound` for the key just made.
   */
  async refreshNewIdentity(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.refreshIdentity(id);
      if (this.#keys.get(id)) return;
      if (attempt >= NEW_OBJECT_READS) {
        throw new TokenFault('unavailable', `the token does not list the key pair ${id} it has just generated`);
      }
      await delay(25 * 2 ** attempt, undefined, { ref: false });
    }
  }

  /**
   * After this process changed an identity on the token: re-reads it (everything with `full`: a new chain, a KMS key
   * whose versions are key pairs of their own labels) and tells sibling processes what to re-read.
   */
  async identityChanged(id: string, opts: { full?: boolean } = {}): Promise<void> {
    this.#status.assertServing();
    await (opts.full ? this.#keys.refresh() : this.#keys.refreshIdentity(id));
    this.onChanged?.(opts.full ? undefined : id);
  }

  /** Another process changed the token (a sibling cluster worker): re-read that identity, or everything. */
  syncIndex(id?: string): void {
    if (!this.#status.isReady()) return;
    this.#keys.refreshSoon(id);
  }

  /** Re-reads the index every `indexRefreshMs` while ready (another daemon may change lifecycle state). */
  startRefresh(): void {
    const every = this.#refreshEveryMs;
    if (every <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#status.isReady() && this.#keys.age() >= every / 2) this.#keys.refreshSoon();
    }, every);
    this.#timer.unref();
  }

  stopRefresh(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Every entry on this token. */
  entries(): KeyEntry[] {
    return this.#keys.entries();
  }

  /** The entry of a certificate identity, from memory, without the miss policy of `lookup` (the signer's path). */
  get(id: string): KeyEntry | undefined {
    return this.#keys.get(id);
  }

  /**
   * The entry for an identifier, from memory. An unknown identifier schedules a background re-read at most once a
   * second (a certificate created by another daemon is found shortly after), never a read on the request path.
   */
  lookup(id: string): KeyEntry | undefined {
    const hit = this.#keys.get(id);
    if (!hit && this.#status.isReady() && this.#keys.age() >= MISS_REFRESH_MS) this.#keys.refreshSoon();
    return hit;
  }

  /** A key pair that is not a certificate identity (a KMS key version), by its CKA_LABEL; from memory. */
  keyPair(label: string): KeyEntry | undefined {
    return this.#keys.keyPair(label);
  }

  /** The KMS key records on this token as last read (src/identities/keys parses them); from memory. */
  kmsKeyRecords(): readonly DataRecord[] {
    return this.#keys.kmsKeys();
  }
}
