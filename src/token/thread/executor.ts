import { TokenFault } from '../faults';
import { Pkcs11Thread, type ThreadCall } from './pkcs11Thread';

/**
 * The PKCS#11 thread of one token, with a deadline on every call. A call that passes its deadline is rejected at
 * once with a `timeout` TokenFault whose `settled` promise tells when the module finally returned; until then it
 * counts as stuck, and the caller quarantines whatever the call held (a session). The event loop never waits on the
 * module.
 *
 * One thread per token, not one per session: a module's state is per library instance for some modules
 * (p11-kit's remoting client gives each C_GetFunctionList its own connection, sessions and handles, measured), so
 * every call of a token goes through the one instance its thread loaded. Concurrency comes from the *Async calls
 * that thread makes (the libuv threadpool runs C_Sign, C_Decrypt and key generation).
 */
export class Pkcs11Executor {
  readonly #modulePath: string;
  #thread: Pkcs11Thread;
  /** Calls past their deadline that have not returned yet, with the time each passed it. */
  readonly #stuck = new Map<symbol, number>();
  #closed = false;

  constructor(modulePath: string) {
    this.#modulePath = modulePath;
    this.#thread = this.#spawn();
  }

  /** Calls past their deadline still inside the module, and since when (ms epoch) the oldest is. */
  get stuck(): { count: number; since: number | undefined } {
    const times = [...this.#stuck.values()];
    return { count: times.length, since: times.length ? Math.min(...times) : undefined };
  }

  /** Calls in the module now, including those past their deadline. */
  get running(): number {
    return this.#thread.pending;
  }

  /**
   * Runs a call within `deadlineMs`. What only a late call needs (its `settled` promise, its place among the stuck
   * calls) is made when the deadline passes, not for every call: this runs once per signature.
   */
  run(call: ThreadCall, deadlineMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new TokenFault('closed', 'the token is closed'));
    return new Promise<unknown>((resolve, reject) => {
      let late: (() => void) | undefined;
      const timer = setTimeout(() => {
        const key = Symbol(call.op);
        let settle!: () => void;
        const settled = new Promise<void>((r) => (settle = r));
        this.#stuck.set(key, Date.now());
        late = () => {
          this.#stuck.delete(key);
          settle();
        };
        reject(new TokenFault('timeout', `the token did not answer within the deadline (${call.op})`, { settled }));
      }, deadlineMs);
      timer.unref();
      this.#thread.run(call).then(
        (v) => {
          clearTimeout(timer);
          if (late) late();
          else resolve(v);
        },
        (e: Error) => {
          clearTimeout(timer);
          if (late) late();
          else reject(e);
        },
      );
    });
  }

  #spawn(): Pkcs11Thread {
    const t = new Pkcs11Thread(this.#modulePath);
    t.onExit = () => {
      // A thread that died (an uncaught error inside it) is replaced; its library instance is a new application
      // for the module, so the token reconnects through the ladder (its sessions answer SESSION_HANDLE_INVALID).
      if (!this.#closed) this.#thread = this.#spawn();
    };
    return t;
  }

  /** Stops the thread; a thread blocked in the module exits when its call returns. */
  close(): void {
    this.#closed = true;
    this.#thread.terminate();
  }
}
