import * as pkcs11 from 'pkcs11js';
import { TokenFault } from './faults';
import type { RawObjects } from './objectReader';
import { LockTimeout, withFileLock } from './records/fileLock';
import type { Pkcs11Executor } from './thread/executor';
import type { ThreadCall } from './thread/pkcs11Thread';

/** Told after every call: its name, its start (`process.hrtime.bigint()`), and its error if it failed. */
export type CallObserver = (operation: string, started: bigint, error: unknown) => void;

/** The calls that change token objects: taken in turn by every process on the host (see RemoteLib). */
const WRITES = new Set([
  'C_CreateObject',
  'C_DestroyObject',
  'C_SetAttributeValue',
  'C_CopyObject',
  'C_GenerateKey',
  'C_GenerateKeyPair',
]);

/** A template no object matches: the find before a write is for the module's own bookkeeping, not for its result. */
const MATCH_NOTHING: pkcs11.Template = [{ type: pkcs11.CKA_LABEL, value: 'p11bridge: no object has this label' }];

/** Deadlines of token calls (config `tokens[].timeouts`). */
export interface CallDeadlines {
  readonly operationMs: number;
  readonly keyGenerationMs: number;
}

/**
 * The PKCS#11 calls of one token, asynchronous and with a deadline each: they run in the token's PKCS#11 threads
 * (src/token/thread/), never on the event loop. Only the calls the daemon makes are listed.
 */
export class RemoteLib {
  readonly #executor: Pkcs11Executor;
  readonly #deadlines: CallDeadlines;
  readonly #observe: CallObserver | undefined;
  readonly #writeLock: string | undefined;

  /**
   * `writeLock`: a path (the lock file is `<path>.lock`) that makes every process of this host that changes the
   * token's objects (cluster workers, CLI commands) do it one at a time, each right after a find. SoftHSM2 2.6.1
   * needs both: two processes writing one token lose each other's changes to its generation counter, and the one
   * that lost them never re-reads the token's objects again, so it does not see the other's objects until yet
   * another process writes (measured with two bare pkcs11js processes creating 20 objects each: one of them blind
   * to 7–20 of the other's objects for good in 8 of 8 runs; finds before each write: 5 of 16 still blind; a lock
   * alone: 8 of 16; both: 0 of 16). For a real HSM it costs a lock file and a find per write, and writes are rare
   * (lifecycle calls, never a signature). Decision 0032.
   */
  constructor(executor: Pkcs11Executor, deadlines: CallDeadlines, observe?: CallObserver, writeLock?: string) {
    this.#executor = executor;
    this.#deadlines = deadlines;
    this.#observe = observe;
    this.#writeLock = writeLock;
  }

  /** Runs one thread call; with an observer, times it (metrics and health: src/token/callEvents.ts). */
  #run(request: ThreadCall, deadlineMs: number, operation: string): Promise<unknown> {
    const observe = this.#observe;
    if (!observe) return this.#executor.run(request, deadlineMs);
    const started = process.hrtime.bigint();
    return this.#executor.run(request, deadlineMs).then(
      (result) => {
        observe(operation, started, undefined);
        return result;
      },
      (e: unknown) => {
        observe(operation, started, e);
        throw e;
      },
    );
  }

  /** Any pkcs11js function by name (synchronous form), with the operation deadline unless one is given. */
  call<T>(fn: string, args: unknown[], deadlineMs = this.#deadlines.operationMs): Promise<T> {
    const run = (): Promise<T> => this.#run({ op: 'call', fn, args }, deadlineMs, fn) as Promise<T>;
    if (this.#writeLock === undefined || !WRITES.has(fn)) return run();
    return this.#inTurn(this.#writeLock, args[0] as pkcs11.Handle, run, deadlineMs);
  }

  /** Runs a write holding the host-wide write lock of the token, right after a find on the same session. */
  async #inTurn<T>(lock: string, session: pkcs11.Handle, write: () => Promise<T>, deadlineMs: number): Promise<T> {
    const times = { waitMs: deadlineMs + this.#deadlines.operationMs, staleMs: 2 * deadlineMs };
    try {
      return await withFileLock(
        lock,
        async () => {
          await this.findObjects(session, MATCH_NOTHING);
          return write();
        },
        times,
      );
    } catch (e) {
      if (e instanceof LockTimeout) throw new TokenFault('busy', `another process is changing the token: ${e.message}`);
      throw e;
    }
  }

  C_OpenSession(slot: pkcs11.Handle, flags: number): Promise<pkcs11.Handle> {
    return this.call('C_OpenSession', [slot, flags]);
  }
  C_CloseSession(session: pkcs11.Handle): Promise<void> {
    return this.call('C_CloseSession', [session]);
  }
  C_Login(session: pkcs11.Handle, userType: number, pin?: string): Promise<void> {
    return this.call('C_Login', [session, userType, pin]);
  }
  C_GetSessionInfo(session: pkcs11.Handle): Promise<pkcs11.SessionInfo> {
    return this.call('C_GetSessionInfo', [session]);
  }
  C_CreateObject(session: pkcs11.Handle, template: pkcs11.Template): Promise<pkcs11.Handle> {
    return this.call('C_CreateObject', [session, template]);
  }
  C_DestroyObject(session: pkcs11.Handle, object: pkcs11.Handle): Promise<void> {
    return this.call('C_DestroyObject', [session, object]);
  }
  C_GenerateKeyPair(
    session: pkcs11.Handle,
    mechanism: pkcs11.Mechanism,
    publicTemplate: pkcs11.Template,
    privateTemplate: pkcs11.Template,
  ): Promise<pkcs11.KeyPair> {
    return this.call(
      'C_GenerateKeyPair',
      [session, mechanism, publicTemplate, privateTemplate],
      this.#deadlines.keyGenerationMs,
    );
  }

  /** C_SignInit + C_Sign in one thread call (a failure after the Init leaves `operationActive` on the error). */
  sign(session: pkcs11.Handle, mechanism: pkcs11.Mechanism, key: pkcs11.Handle, data: Buffer, outLen: number) {
    return this.#run(
      { op: 'sign', session, mechanism, key, data, outLen },
      this.#deadlines.operationMs,
      'sign',
    ) as Promise<Buffer>;
  }

  /** C_DecryptInit + C_Decrypt in one thread call. */
  decrypt(session: pkcs11.Handle, mechanism: pkcs11.Mechanism, key: pkcs11.Handle, data: Buffer, outLen: number) {
    return this.#run(
      { op: 'decrypt', session, mechanism, key, data, outLen },
      this.#deadlines.operationMs,
      'decrypt',
    ) as Promise<Buffer>;
  }

  /** Every object matching a template (Init, Find…, Final in one thread call). */
  findObjects(session: pkcs11.Handle, template: pkcs11.Template): Promise<pkcs11.Handle[]> {
    return this.#run({ op: 'findObjects', session, template }, this.#deadlines.operationMs, 'findObjects') as Promise<
      pkcs11.Handle[]
    >;
  }

  /** Reads the given attributes of one object: attribute type → raw value. */
  async getAttributes(
    session: pkcs11.Handle,
    handle: pkcs11.Handle,
    types: readonly number[],
  ): Promise<Map<number, Buffer>> {
    const result = await this.call<pkcs11.Attribute[]>('C_GetAttributeValue', [
      session,
      handle,
      types.map((type) => ({ type })),
    ]);
    return new Map(result.map((a) => [a.type, a.value as Buffer]));
  }

  /** The objects the key index is built from (src/token/objectReader.ts), read in one thread call. */
  readObjects(session: pkcs11.Handle, label?: string): Promise<RawObjects> {
    return this.#run(
      { op: 'readObjects', session, ...(label === undefined ? {} : { label }) },
      this.#deadlines.keyGenerationMs,
      'readObjects',
    ) as Promise<RawObjects>;
  }
}
