import { createHash, timingSafeEqual } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import type { Logger } from '../../observability/logger';
import { describeFault } from '../ckr';
import { TokenFault } from '../faults';
import { KMS_KEY_APPLICATION, METADATA_APPLICATION } from '../metadata';
import type { RawObject, RawObjects } from '../objectReader';
import type { RemoteLib } from '../remoteLib';
import { LockTimeout, withFileLock } from './fileLock';
import { readRecordFile, writeRecordFile, type FileRecord, type RecordFileState } from './recordFile';
import {
  ensureRecordKey,
  fileMac,
  fileMacInput,
  findRecordKey,
  RECORD_KEY_LABEL,
  RecordKeyProblem,
  recordMac,
  setTokenGeneration,
  tokenGeneration,
} from './recordMac';
import type { AdminRunner, RecordStore } from './recordStore';

/** Verified records remembered so that a re-read does not ask the token again; more than this and it starts over. */
const VERIFIED_CACHE_MAX = 10000;

/**
 * Records in a file (`metadataStore: file`, decision 0031), for tokens that refuse data objects (NSS's softoken).
 * The file leaves the token, so the token vouches for each record: an HMAC (CKM_SHA256_HMAC) by a key generated in
 * the token, sensitive and never extractable, over application, label and value. A record edited, forged, relabelled
 * or copied from another token's file does not verify; it is handed to the index with an empty value, which refuses
 * the identity (or KMS key) exactly as it refuses damaged metadata on a token. The token also vouches for the whole
 * file (its generation and every record's MAC) and keeps the generation last written: a file with records removed,
 * added or swapped, or rolled back to an older copy, refuses every record. Writers (cluster workers, CLI commands)
 * take turns under a lock file; every write replaces the file atomically, so readers need no lock.
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
    const problems: string[] = [];
    // The token's generation first, then the file: a writer replaces the file before it raises the generation,
    // so a file older than the generation read before it can only be a rollback.
    const keyProblems: string[] = [];
    const generation = await this.#tokenGeneration(keyProblems);
    const content = await readRecordFile(this.#path);
    // A token without its record key yet (never provisioned) is only a problem once there are records to check.
    if (content.kind === 'damaged' || content.records.length > 0) problems.push(...keyProblems);
    let all: readonly FileRecord[] = [];
    let fileTrusted = generation !== undefined;
    if (content.kind === 'damaged') {
      // Fail closed: no record at all, so every identity with a certificate is refused until it is restored.
      problems.push(`record file ${this.#path} is damaged (${content.reason}): every identity is refused`);
    } else {
      all = content.records;
      if (generation !== undefined && content.generation < generation) {
        problems.push(
          `record file ${this.#path} is generation ${content.generation}, older than the token's ${generation} ` +
            '(rolled back to an earlier copy?): every record is refused until the newest copy is restored',
        );
        fileTrusted = false;
      } else if (generation !== undefined && !(await this.#fileAuthentic(content))) {
        problems.push(
          `record file ${this.#path} does not authenticate as a whole (records added, removed, relabelled or ` +
            'swapped for older ones): every record is refused until the newest copy is restored',
        );
        fileTrusted = false;
      }
    }
    const records = label === undefined ? all : all.filter((r) => r.label === label);
    const authentic = fileTrusted ? await this.#authenticate(records, problems) : records.map(() => false);
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

  /** The generation the token keeps; undefined (with the problem) when its record key is missing or ambiguous. */
  async #tokenGeneration(problems: string[]): Promise<number | undefined> {
    try {
      return await this.#admin(async (session, lib) =>
        tokenGeneration(session, lib, await findRecordKey(session, lib)),
      );
    } catch (e) {
      if (!(e instanceof RecordKeyProblem)) throw e;
      problems.push(`no record of ${this.#path} can be authenticated: ${e.message}`);
      return undefined;
    }
  }

  /** Whether the file's own MAC is the token's (a state verified before is not asked again). */
  async #fileAuthentic(state: RecordFileState): Promise<boolean> {
    const digest = stateDigest(state);
    if (this.#verified.has(digest)) return true;
    const mac = await this.#admin(async (session, lib) =>
      fileMac(session, lib, await findRecordKey(session, lib), state),
    );
    const ok = mac.length === state.mac.length && timingSafeEqual(mac, state.mac);
    if (ok) this.#verified.add(digest);
    return ok;
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
    await this.#write(async (records, session, lib, key) => {
      const mac = await recordMac(session, lib, key, application, label, value);
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
      await this.#write(async (records, session, lib, key) => {
        await recordMac(session, lib, key, METADATA_APPLICATION, 'p11bridge record probe', Buffer.alloc(0));
        return records;
      });
      return undefined;
    } catch (e) {
      const why = e instanceof TokenFault || e instanceof RecordKeyProblem ? e.message : describeFault(e);
      return `the record file ${this.#path} cannot be used: ${why}`;
    }
  }

  /**
   * Read, change and replace the file under its lock, all in one admin sequence on the token: the record key
   * (made here on first use), the token's generation, the change, the new file (generation + 1, its MAC), then the
   * generation raised on the token. A file that is damaged, older than the token's generation, or does not
   * authenticate as a whole is never overwritten (that would make its tampering good): the write is refused until
   * the newest copy is restored.
   */
  async #write(
    change: (
      records: readonly FileRecord[],
      session: pkcs11.Handle,
      lib: RemoteLib,
      key: pkcs11.Handle,
    ) => Promise<readonly FileRecord[]>,
  ): Promise<void> {
    const refuse = (why: string): TokenFault =>
      new TokenFault('unavailable', `the record file ${this.#path} ${why}: restore the newest copy from a backup`);
    try {
      await withFileLock(this.#path, () =>
        this.#admin(async (session, lib) => {
          const key = await ensureRecordKey(session, lib);
          const generation = await tokenGeneration(session, lib, key);
          const content = await readRecordFile(this.#path);
          if (content.kind === 'damaged') throw refuse(`is damaged (${content.reason})`);
          if (content.generation < generation) {
            throw refuse(`is generation ${content.generation}, older than the token's ${generation}`);
          }
          // A new file (generation 0, no MAC) has nothing to vouch for yet.
          if (content.generation > 0 || content.records.length > 0) {
            const mac = await fileMac(session, lib, key, content);
            if (mac.length !== content.mac.length || !timingSafeEqual(mac, content.mac)) {
              throw refuse('does not authenticate as a whole');
            }
          }
          const records = await change(content.records, session, lib, key);
          const next = { generation: content.generation + 1, records };
          await writeRecordFile(this.#path, { ...next, mac: await fileMac(session, lib, key, next) });
          await setTokenGeneration(session, lib, key, next.generation);
        }),
      );
    } catch (e) {
      if (e instanceof LockTimeout) throw new TokenFault('busy', e.message);
      // The token's record key missing, doubled or exportable: the token cannot vouch for a write now (a 503 that
      // names it, as for every other record-file refusal), not an internal error.
      if (e instanceof RecordKeyProblem) {
        throw new TokenFault('unavailable', `the record file ${this.#path} cannot be written: ${e.message}`);
      }
      throw e;
    }
  }
}

/** Identifies a file state (generation, MAC, record MACs) for the verified cache. */
function stateDigest(state: RecordFileState): string {
  const h = createHash('sha256').update('file:');
  h.update(fileMacInput(state.generation, state.records)).update(state.mac);
  return h.digest('hex');
}

/** Identifies a (record, MAC) pair for the verified cache. */
function recordDigest(r: FileRecord): string {
  const h = createHash('sha256');
  for (const part of [r.application, r.label]) h.update(`${Buffer.byteLength(part)}:${part}`);
  h.update(`${r.value.length}:`).update(r.value).update(r.mac);
  return h.digest('hex');
}
