import { closeSync, fdatasync, openSync, renameSync, writeSync } from 'node:fs';
import { ApiError } from '../errors/apiError';
import type { Logger } from '../observability/logger';
import { checkpointPayload, formatLine, GENESIS, keyFingerprint, lineHash, type EntryType } from './entry';
import { readChainTail, rotatedName } from './tail';

/** The audit key as the chain sees it: its public key, and a signature made in the token. */
export interface CheckpointSigner {
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
  /** ECDSA P-256 with SHA-256 over `payload`, DER-encoded, made by the token. */
  sign(payload: Buffer): Promise<Buffer>;
}

export interface AuditChainOptions {
  readonly path: string;
  /** The chain's name in every `open` and `checkpoint` entry (`main`, or `w<slot>` for a cluster worker). */
  readonly chain: string;
  readonly durability: 'write' | 'fsync';
  readonly writeTimeoutMs: number;
  readonly checkpointEntries: number;
  readonly checkpointSeconds: number;
  readonly rotateBytes: number;
  /** 0: never by age. */
  readonly rotateAgeSeconds: number;
  /** The audit key, once the token holds and serves it (undefined meanwhile: checkpoints wait). */
  readonly signer: () => CheckpointSigner | undefined;
  readonly log: Logger;
  readonly now?: () => number;
}

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}
type Item = { line: string; waiter: Waiter | undefined } | { rotateAfter: number };

/** An entry's fields, or a function that makes them when the entry is formatted (after the request's turn). */
export type EntryFields = object | (() => object);

/** An entry appended but not yet formatted: what happened and when, in call order. */
interface Appended {
  readonly type: EntryType;
  readonly fields: EntryFields;
  readonly time: number;
  readonly waiter: Waiter | undefined;
  /** Entries lost before this one (the queue was full): recorded in it as `lostBefore`. */
  readonly lost: number;
}

/** Entries kept in memory while the file cannot be written; past it new entries are counted as lost. */
const MAX_QUEUED = 100_000;
/** Longest wait of an entry nobody waits for before its batch is written. */
const LINGER_MS = 10;
/** Age at which a later entry's turn writes the lingering batch (before its timer would wake the loop). */
const LINGER_WRITE_MS = 8;
/** Pause before a failed write is tried again. */
const RETRY_MS = 1000;

/**
 * One hash chain of audit entries appended to a file (decision 0026). Appending is synchronous and cheap: the entry
 * takes its place in the chain (the chain order is the call order) and its time; it is formatted, hashed and written
 * in batches after the current turn of the event loop (entries nobody waits for linger up to 10 ms to share a
 * write). Formatting a batch at once, rather than each entry inside its request, is what keeps the audit's CPU per
 * request small (docs/performance.md, issue 18): the code and data stay warm over the batch. A caller that must not
 * answer before its entry is written (`audit.required`) waits for its batch's write(2) (and fdatasync with
 * `durability: fsync`, bounded by `writeTimeoutMs`), and is refused when it fails.
 * Checkpoints sign the chain head with the audit key in the token every `checkpointEntries` entries or
 * `checkpointSeconds` seconds; rotation renames the file to `<file>.<seq of its last entry>` and continues the chain
 * in a new file whose first entry is an `open` entry.
 */
export class AuditChain {
  readonly #o: AuditChainOptions;
  readonly #now: () => number;
  #seq: number;
  #prev: string;
  #fd: number | undefined;
  #fileBytes = 0;
  #fileOpened: number;
  #queue: Item[] = [];
  /** Appended, not yet formatted (see {@link AuditChain.#settle}). */
  #appended: Appended[] = [];
  #settling = false;
  #carry: Buffer | undefined;
  #writing = false;
  #scheduled = false;
  #lingering: NodeJS.Timeout | undefined;
  /** When the lingering batch's first entry was appended (Date.now()). */
  #lingerSince = 0;
  #failing: Error | undefined;
  /** When the current run of failed writes began; failed write attempts since the chain opened (auditHealth.ts). */
  #failingSince = 0;
  #writeFailures = 0;
  #retry: NodeJS.Timeout | undefined;
  #lost = 0;
  #sinceCheckpoint = 0;
  #checkpointedSeq = 0;
  #checkpointing: Promise<void> | undefined;
  #signerMissingLogged = false;
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  private constructor(o: AuditChainOptions, seq: number, prev: string) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#seq = seq;
    this.#prev = prev;
    this.#fileOpened = this.#now();
    this.#timer = setInterval(() => {
      if (this.#sinceCheckpoint > 0) void this.checkpoint();
    }, o.checkpointSeconds * 1000);
    this.#timer.unref();
  }

  /**
   * Opens the chain: continues the one in the file (or its newest rotated file) or starts a new one, and appends an
   * `open` entry. A file that cannot be opened is an error only when `required`; otherwise writes retry later.
   */
  static open(o: AuditChainOptions, opts: { required: boolean; pid?: number }): AuditChain {
    const tail = readChainTail(o.path);
    const chain = new AuditChain(o, tail?.seq ?? 0, tail?.hash ?? GENESIS);
    try {
      chain.#openFile();
    } catch (e) {
      if (opts.required) throw new Error(`audit file ${o.path} cannot be opened: ${(e as Error).message}`);
      chain.#fail(e as Error);
    }
    const signer = o.signer();
    chain.append('open', {
      chain: o.chain,
      reason: 'start',
      pid: opts.pid ?? process.pid,
      ...(signer ? { key: keyFingerprint(signer.spki) } : {}),
      ...(tail && tail.droppedBytes > 0
        ? { recovered: `cut ${tail.droppedBytes} bytes of an incomplete last line` }
        : {}),
    });
    return chain;
  }

  /** Sequence number of the last entry appended. */
  get seq(): number {
    this.#settle();
    return this.#seq;
  }

  /**
   * The write side's state for /readyz and the metrics (src/audit/auditHealth.ts): read from memory, never a
   * file operation. `failure` while writes fail: the errno code (or message) of the last failure and since when.
   */
  get writeState(): { failure?: { code: string; since: number }; writeFailures: number } {
    const e = this.#failing as NodeJS.ErrnoException | undefined;
    return {
      ...(e ? { failure: { code: e.code ?? e.message, since: this.#failingSince } } : {}),
      writeFailures: this.#writeFailures,
    };
  }

  /** True while writes fail (the last one did not complete). */
  get failing(): boolean {
    return this.#failing !== undefined;
  }

  /** Appends an entry; it is written with the next batch. `fields` may be a function, called when it is formatted. */
  append(type: EntryType, fields: EntryFields): void {
    void this.#append(type, fields, false);
  }

  /**
   * Appends an entry and settles when it is written: rejects with the service-unavailable error when it cannot be
   * (the write failed, or took longer than `writeTimeoutMs`). The entry stays in the chain either way.
   */
  appendWritten(type: EntryType, fields: EntryFields): Promise<void> {
    return this.#append(type, fields, true) as Promise<void>;
  }

  #append(type: EntryType, fields: EntryFields, wait: boolean): Promise<void> | undefined {
    if (this.#closed) return wait ? Promise.reject(unavailable('the audit log is closed')) : undefined;
    if (this.#queue.length + this.#appended.length >= MAX_QUEUED) {
      this.#lost++;
      return wait ? Promise.reject(unavailable('the audit log cannot be written')) : undefined;
    }
    let waiter: Waiter | undefined;
    let promise: Promise<void> | undefined;
    if (wait) {
      // Fail fast while the file is failing: the entry still joins the queue (the HSM did the operation).
      if (this.#failing) promise = Promise.reject(unavailable('the audit log cannot be written'));
      else promise = new Promise<void>((resolve, reject) => (waiter = { resolve, reject }));
    }
    const lost = this.#lost;
    this.#lost = 0;
    this.#appended.push({ type, fields, time: this.#now(), waiter, lost });
    if (waiter) this.#schedule();
    else this.#linger();
    if (type !== 'checkpoint' && ++this.#sinceCheckpoint >= this.#o.checkpointEntries) void this.checkpoint();
    return promise;
  }

  /**
   * Formats and hashes every appended entry, in order, into the write queue; rotates the file where it has grown
   * past its size or age. Runs before a batch is written, before a checkpoint reads the chain head, and when the
   * sequence number is asked.
   */
  #settle(): void {
    if (this.#settling || this.#appended.length === 0) return;
    this.#settling = true;
    try {
      const batch = this.#appended;
      this.#appended = [];
      for (const a of batch) {
        if (
          this.#fileBytes >= this.#o.rotateBytes ||
          (this.#o.rotateAgeSeconds > 0 && a.time - this.#fileOpened >= this.#o.rotateAgeSeconds * 1000)
        ) {
          this.#rotateHere(a.time);
        }
        const fields = this.#fieldsOf(a.fields);
        this.#push(a.type, a.lost > 0 ? { ...fields, lostBefore: a.lost } : fields, a.time, a.waiter);
      }
    } finally {
      this.#settling = false;
    }
  }

  /** An entry's fields; a function that throws (a bug) leaves the entry in the chain with what is known. */
  #fieldsOf(fields: EntryFields): object {
    if (typeof fields !== 'function') return fields;
    try {
      return (fields as () => object)();
    } catch (e) {
      this.#o.log.error({ err: (e as Error).message }, 'audit entry fields could not be made');
      return { fieldsError: 'the entry could not be completed' };
    }
  }

  #push(type: EntryType, fields: object, now: number, waiter: Waiter | undefined): void {
    const seq = this.#seq + 1;
    const line = formatLine(seq, now, type, fields, this.#prev);
    this.#seq = seq;
    this.#prev = lineHash(line);
    this.#fileBytes += line.length + 1;
    this.#queue.push({ line, waiter });
  }

  /** Starts a new file at this point of the chain: rename after the entry `seq`, then an `open` entry. */
  #rotateHere(now: number): void {
    this.#queue.push({ rotateAfter: this.#seq });
    this.#fileBytes = 0;
    this.#fileOpened = now;
    const signer = this.#o.signer();
    this.#push(
      'open',
      { chain: this.#o.chain, reason: 'rotate', ...(signer ? { key: keyFingerprint(signer.spki) } : {}) },
      now,
      undefined,
    );
    void this.checkpoint();
  }

  /**
   * Signs the chain head with the audit key and appends the checkpoint entry. At most one at a time; without a
   * signer (the token not serving yet) it is skipped and the tail stays unsigned until the next one.
   */
  checkpoint(): Promise<void> {
    if (this.#checkpointing) return this.#checkpointing;
    this.#settle();
    const headSeq = this.#seq;
    if (headSeq === this.#checkpointedSeq) return Promise.resolve();
    const signer = this.#o.signer();
    if (!signer) {
      if (!this.#signerMissingLogged) this.#o.log.warn('audit checkpoint skipped: the audit key is not available');
      this.#signerMissingLogged = true;
      return Promise.resolve();
    }
    const head = this.#prev;
    this.#sinceCheckpoint = 0;
    this.#checkpointing = signer
      .sign(checkpointPayload(this.#o.chain, headSeq, head))
      .then(
        (signature) => {
          this.#signerMissingLogged = false;
          this.#checkpointedSeq = headSeq;
          if (this.#closed && this.#fd === undefined) return;
          this.append('checkpoint', {
            chain: this.#o.chain,
            headSeq,
            head,
            key: keyFingerprint(signer.spki),
            spki: signer.spki.toString('base64'),
            signature: signature.toString('base64'),
          });
        },
        (e: unknown) => {
          this.#o.log.warn({ err: (e as Error).message }, 'audit checkpoint failed; the tail stays unsigned for now');
        },
      )
      .finally(() => {
        this.#checkpointing = undefined;
      });
    return this.#checkpointing;
  }

  /** A last checkpoint, then every queued entry written (until the deadline), then the file closed. */
  async close(deadlineMs = 5000): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + deadlineMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.checkpoint(), new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
    this.#closed = true;
    this.#settle();
    while ((this.#queue.length > 0 || this.#writing || this.#carry) && Date.now() < deadline) {
      if (this.#failing) {
        // One last try now rather than after the retry pause; a file that still fails keeps what it could not take.
        clearTimeout(this.#retry);
        this.#retry = undefined;
        this.#pump();
        if (this.#failing) break;
      }
      this.#schedule();
      // Not unref'd: closing must finish even when nothing else keeps the process alive (the CLI, a bench).
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    clearTimeout(this.#retry);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #openFile(): void {
    this.#fd = openSync(this.#o.path, 'a', 0o640);
  }

  /**
   * Entries nobody waits for are written within {@link LINGER_MS} (or sooner, with a waited-for one): at a
   * thousand requests a second that is one write(2) per eight to ten entries instead of one per entry. A crash loses
   * at most that much of them; `audit.required` entries are written at once.
   * The batch is written by the turn of a later request once it is 8 ms old, so that under steady load the
   * timer never fires: a timer waking an idle event loop cost 40-100 µs of CPU on the bench machine (more than the
   * write it saves), and at a thousand requests a second that was 5-20 µs per request (docs/performance.md). The
   * timer writes what a quiet moment leaves behind.
   */
  #linger(): void {
    if (this.#scheduled) return;
    if (this.#lingering) {
      if (Date.now() - this.#lingerSince >= LINGER_WRITE_MS) this.#schedule();
      return;
    }
    this.#lingerSince = Date.now();
    this.#lingering = setTimeout(() => {
      this.#lingering = undefined;
      this.#schedule();
    }, LINGER_MS);
  }

  #schedule(): void {
    if (this.#lingering) {
      clearTimeout(this.#lingering);
      this.#lingering = undefined;
    }
    if (this.#scheduled || this.#writing || this.#retry) return;
    this.#scheduled = true;
    // Entries appended in the same turn of the event loop share one write.
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  /** Writes everything queued: batches between rotation points, each with one write(2). */
  #pump(): void {
    this.#settle();
    while (!this.#writing && !this.#retry) {
      try {
        if (this.#fd === undefined) this.#openFile();
      } catch (e) {
        this.#fail(e as Error);
        return;
      }
      if (this.#carry) {
        if (!this.#write(this.#carry, [])) return;
        continue;
      }
      const first = this.#queue[0];
      if (first === undefined) return;
      if ('rotateAfter' in first) {
        try {
          this.#rotateFile(first.rotateAfter);
        } catch (e) {
          this.#fail(e as Error);
          return;
        }
        this.#queue.shift();
        continue;
      }
      let n = 0;
      const lines: string[] = [];
      const waiters: Waiter[] = [];
      for (const item of this.#queue) {
        if ('rotateAfter' in item) break;
        lines.push(item.line);
        if (item.waiter) waiters.push(item.waiter);
        n++;
      }
      this.#queue.splice(0, n);
      // One string, one copy into the buffer written (the lines are kept without their newline).
      if (!this.#write(Buffer.from(`${lines.join('\n')}\n`, 'utf8'), waiters)) return;
    }
  }

  #rotateFile(lastSeq: number): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    renameSync(this.#o.path, rotatedName(this.#o.path, lastSeq));
    this.#openFile();
  }

  /**
   * Writes `buf` whole with write(2) (it may write less), synchronously: a batch of a few KiB into the page cache
   * takes microseconds, where handing it to the libuv threadpool costs ten times that in CPU (docs/performance.md);
   * the file must therefore be on a local disk (decision 0026). With `durability: fsync` the fdatasync runs on the
   * threadpool and the batch's waiters wait for it (bounded by `writeTimeoutMs`). False when the pump must stop
   * (a failure, or an fdatasync in flight).
   */
  #write(buf: Buffer, waiters: Waiter[]): boolean {
    const fd = this.#fd as number;
    let offset = 0;
    try {
      while (offset < buf.length) offset += writeSync(fd, buf, offset, buf.length - offset);
    } catch (e) {
      this.#carry = buf.subarray(offset);
      const err = unavailable('the audit log cannot be written');
      for (const w of waiters) w.reject(err);
      this.#fail(e as Error);
      return false;
    }
    this.#carry = undefined;
    if (this.#failing) this.#o.log.info('audit log writable again');
    this.#failing = undefined;
    if (this.#o.durability !== 'fsync') {
      for (const w of waiters) w.resolve();
      return true;
    }
    this.#writing = true;
    const timer =
      waiters.length > 0
        ? setTimeout(() => {
            const e = unavailable('the audit log fdatasync did not complete in time');
            for (const w of waiters.splice(0)) w.reject(e);
          }, this.#o.writeTimeoutMs)
        : undefined;
    fdatasync(fd, (e) => {
      clearTimeout(timer);
      this.#writing = false;
      if (e) {
        // The bytes are in the file; only their durability is in doubt: they are not written again.
        const err = unavailable('the audit log cannot be made durable');
        for (const w of waiters) w.reject(err);
        this.#fail(e);
        return;
      }
      for (const w of waiters) w.resolve();
      this.#pump();
    });
    return false;
  }

  #fail(e: Error): void {
    this.#writeFailures++;
    if (!this.#failing) this.#failingSince = this.#now();
    if (!this.#failing) this.#o.log.error({ err: e.message, file: this.#o.path }, 'audit log cannot be written');
    this.#failing = e;
    if (this.#fd !== undefined && (e as NodeJS.ErrnoException).code === 'EBADF') this.#fd = undefined;
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined;
      this.#pump();
    }, RETRY_MS);
    this.#retry.unref();
  }
}

/** The error a required entry's caller answers with (KMS names it ServiceUnavailableTemporary). */
function unavailable(why: string): ApiError {
  return new ApiError('ServiceUnavailable', undefined, { cause: new Error(why) });
}
