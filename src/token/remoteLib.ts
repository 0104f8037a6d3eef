import type * as pkcs11 from 'pkcs11js';
import type { RawObjects } from './objectReader';
import type { Pkcs11Executor } from './thread/executor';
import type { ThreadCall } from './thread/pkcs11Thread';

/** Told after every call: its name, its start (`process.hrtime.bigint()`), and its error if it failed. */
export type CallObserver = (operation: string, started: bigint, error: unknown) => void;

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

  constructor(executor: Pkcs11Executor, deadlines: CallDeadlines, observe?: CallObserver) {
    this.#executor = executor;
    this.#deadlines = deadlines;
    this.#observe = observe;
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
    return this.#run({ op: 'call', fn, args }, deadlineMs, fn) as Promise<T>;
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
