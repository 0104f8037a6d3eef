import { createHash, timingSafeEqual } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import type { Logger } from '../../observability/logger';
import { describeFault } from '../ckr';
import { TokenFault } from '../faults';
import { KMS_KEY_APPLICATION, METADATA_APPLICATION } from '../metadata';
import type { RawObject, RawObjects } from '../objectReader';
import { LockTimeout, withFileLock } from './fileLock';
import { readRecordFile, writeRecordFile, type FileRecord } from './recordFile';
import { ensureRecordKey, findRecordKey, RECORD_KEY_LABEL, RecordKeyProblem, recordMac } from './recordMac';
import type { AdminRunner, RecordStore } from './recordStore';

/** Verified records remembered so that a re-read does not ask the token again; more than this and it starts over. */
const VERIFIED_CACHE_MAX = 10000;

/**
 * Records in a file (`metadataStore: file`, decision 0031), for tokens that refuse data objects (NSS's softoken).
 * The file leaves the token, so the token vouches for each record: an HMAC (CKM_SHA256_HMAC) by a key generated in
 * the token, sensitive and never extractable, over application, label and value. A record edited, forged, relabelled
 * or copied from another token's file does not verify; it is handed to the index with an empty value, which refuses
 * the identity (or KMS key) exactly as it refuses damaged metadata on a token. Writers (cluster workers, CLI
 * commands) take turns under a lock file; every write replaces the file atomically, so readers need no lock.
 */
export class FileRecordStore implements RecordStore {
  readonly #path: string;
  readonly #admin: AdminRunner;
  readonly #log: Logger;
  /** Digests of (record, MAC) pairs the token has vouched for in this process. */
  #verified = new Set<string>();
  /** Problems already logged (each once while it lasts). */
  #reported = new Set<string>();

  constructor(path: string, admin: AdminRunner, log: Logger) {
    this.#path = path;
    this.#admin = admin;
    this.#log = log;
  }

  get description(): string {
    return `file ${this.#path} (records authenticated by the token key ${RECORD_KEY_LABEL})`;
  }

  async overlay(raw: RawObjects, label?: string): Promise<RawObjects> {
    const content = await readRecordFile(this.#path);
    const problems: string[] = [];
    let records: readonly FileRecord[] = [];
    if (content.kind === 'damaged') {
      // Fail closed: no record at all, so every identity with a certificate is refused until it is restored.
      problems.push(`record file ${this.#path} is damaged (${content.reason}): every identity is refused`);
    } else {
      records = label === undefined ? content.records : content.records.filter((r) => r.label === label);
    }
    const authentic = await this.#authenticate(records, problems);
    this.#report(problems);
    const toRaw = (r: FileRecord, i: number): RawObject => ({
      handle: Buffer.from(`file:${i}:${r.application}:${r.label}`, 'utf8'),
      attrs: {
        [pkcs11.CKA_LABEL]: Buffer.from(r.label, 'utf8'),
        [pkcs11.CKA_VALUE]: authentic[i] ? r.value : Buffer.alloc(0),
      },
    });
    const of = (application: string): RawObject[] =>
      records.flatMap((r, i) => (r.application === application ? [toRaw(r, i)] : []));
    // Data objects the token may hold are not read in this mode: only records the token vouched for count.
    return { ...raw, metadata: of(METADATA_APPLICATION), kmsKeys: of(KMS_KEY_APPLICATION) };
  }

  /** Whether each record's MAC is the token's; asks the token only for records not verified before. */
  async #authenticate(records: readonly FileRecord[], problems: string[]): Promise<boolean[]> {
    const digests = records.map((r) => recordDigest(r));
    const result = digests.map((d) => this.#verified.has(d));
    const todo = result.flatMap((known, i) => (known ? [] : [i]));
    if (todo.length === 0) return result;
    try {
      await this.#admin(async (session, lib) => {
        const key = await findRecordKey(session, lib);
        for (const i of todo) {
          const r = records[i] as FileRecord;
          const mac = await recordMac(session, lib, key, r.application, r.label, r.value);
          result[i] = mac.length === r.mac.length && timingSafeEqual(mac, r.mac);
        }
      });
    } catch (e) {
      if (!(e instanceof RecordKeyProblem)) throw e;
      problems.push(`no record of ${this.#path} can be authenticated: ${e.message}`);
      return result;
    }
    if (this.#verified.size + todo.length > VERIFIED_CACHE_MAX) this.#verified = new Set();
    for (const i of todo) {
      const r = records[i] as FileRecord;
      if (result[i]) this.#verified.add(digests[i] as string);
      else {
        problems.push(
          `record ${r.application}/${r.label} in ${this.#path} does not authenticate (edited, forged, or copied ` +
            'from another token): refused',
        );
      }
    }
    return result;
  }

  #report(problems: readonly string[]): void {
    const now = new Set(problems);
    for (const p of now) if (!this.#reported.has(p)) this.#log.warn({ reason: p }, 'record file problem');
    this.#reported = now;
  }

  async put(application: string, label: string, value: Buffer): Promise<void> {
    await this.#write(async (records) => {
      const mac = await this.#admin(async (session, lib) =>
        recordMac(session, lib, await ensureRecordKey(session, lib), application, label, value),
      );
      // Duplicates an operator's edit may have left are replaced too: the record is single again (a repair).
      const others = records.filter((r) => r.application !== application || r.label !== label);
      return [...others, { application, label, value, mac }];
    });
  }

  async remove(application: string, label: string): Promise<number> {
    let removed = 0;
    await this.#write((records) => {
      const kept = records.filter((r) => r.application !== application || r.label !== label);
      removed = records.length - kept.length;
      return Promise.resolve(kept);
    });
    return removed;
  }

  async refusal(): Promise<string | undefined> {
    try {
      await this.#write(async (records) => {
        await this.#admin(async (session, lib) => {
          const key = await ensureRecordKey(session, lib);
          await recordMac(session, lib, key, METADATA_APPLICATION, 'p11bridge record probe', Buffer.alloc(0));
        });
        return records;
      });
      return undefined;
    } catch (e) {
      const why = e instanceof TokenFault || e instanceof RecordKeyProblem ? e.message : describeFault(e);
      return `the record file ${this.#path} cannot be used: ${why}`;
    }
  }

  /** Read, change and replace the file under its lock; a damaged file is never overwritten (it may be evidence). */
  async #write(change: (records: readonly FileRecord[]) => Promise<readonly FileRecord[]>): Promise<void> {
    try {
      await withFileLock(this.#path, async () => {
        const content = await readRecordFile(this.#path);
        if (content.kind === 'damaged') {
          throw new TokenFault(
            'unavailable',
            `the record file ${this.#path} is damaged (${content.reason}): restore it from a backup`,
          );
        }
        await writeRecordFile(this.#path, await change(content.records));
      });
    } catch (e) {
      if (e instanceof LockTimeout) throw new TokenFault('busy', e.message);
      throw e;
    }
  }
}

/** Identifies a (record, MAC) pair for the verified cache. */
function recordDigest(r: FileRecord): string {
  const h = createHash('sha256');
  for (const part of [r.application, r.label]) h.update(`${Buffer.byteLength(part)}:${part}`);
  h.update(`${r.value.length}:`).update(r.value).update(r.mac);
  return h.digest('hex');
}
