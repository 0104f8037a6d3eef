import { TokenFault } from '../faults';
import { Pkcs11Thread, type ThreadCall } from './pkcs11Thread';

interface Queued {
  call: ThreadCall;
  deadlineAt: number;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A fixed set of PKCS#11 threads for one token (or one module's control calls), with a deadline on every call.
 * A call that passes its deadline is rejected at once with a `timeout` TokenFault whose `settled` promise tells
 * when the module finally returned; its thread stays out of service until then (it is blocked in the module), and
 * the caller quarantines whatever the call held (a session). The event loop never waits on the module.
 */
export class Pkcs11Executor {
  readonly #modulePath: string;
  readonly #threads: Pkcs11Thread[] = [];
  readonly #queue: Queued[] = [];
  #stuckSince = new Map<Pkcs11Thread, number>();
  #closed = false;

  constructor(modulePath: string, threads: number) {
    this.#modulePath = modulePath;
    for (let i = 0; i < threads; i++) this.#threads.push(this.#spawn());
  }

  /** Threads blocked in a call that passed its deadline, and since when (ms epoch) the oldest is. */
  get stuck(): { count: number; since: number | undefined } {
    const times = [...this.#stuckSince.values()];
    return { count: times.length, since: times.length ? Math.min(...times) : undefined };
  }

  /** Calls in the module now (running), including those past their deadline. */
  get running(): number {
    return this.#threads.filter((t) => t.busy).length;
  }

  /** Runs a call on a free thread within `deadlineMs` (queue wait included). */
  run(call: ThreadCall, deadlineMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new TokenFault('closed', 'the token is closed'));
    return new Promise<unknown>((resolve, reject) => {
      const q: Queued = {
        call,
        deadlineAt: Date.now() + deadlineMs,
        resolve,
        reject,
        timer: setTimeout(() => {
          // Still queued: no thread took it (all busy or stuck).
          const i = this.#queue.indexOf(q);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(new TokenFault('timeout', `no PKCS#11 thread answered within ${deadlineMs} ms`, Promise.resolve()));
        }, deadlineMs),
      };
      q.timer.unref?.();
      this.#queue.push(q);
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const thread = this.#threads.find((t) => !t.busy && !t.dead);
      if (!thread) return;
      const q = this.#queue.shift() as Queued;
      clearTimeout(q.timer);
      this.#start(thread, q);
    }
  }

  #start(thread: Pkcs11Thread, q: Queued): void {
    const remaining = Math.max(1, q.deadlineAt - Date.now());
    let late = false;
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const timer = setTimeout(() => {
      late = true;
      this.#stuckSince.set(thread, Date.now());
      q.reject(new TokenFault('timeout', `the token did not answer within the deadline (${q.call.op})`, settled));
    }, remaining);
    timer.unref?.();
    thread
      .run(q.call)
      .then(
        (v) => {
          clearTimeout(timer);
          if (!late) q.resolve(v);
        },
        (e: Error) => {
          clearTimeout(timer);
          if (!late) q.reject(e);
        },
      )
      .finally(() => {
        this.#stuckSince.delete(thread);
        settle();
        this.#pump();
      });
  }

  #spawn(): Pkcs11Thread {
    const t = new Pkcs11Thread(this.#modulePath);
    t.onExit = () => {
      // A thread that died (an uncaught error inside it) is replaced, so the executor keeps its size.
      if (this.#closed) return;
      const i = this.#threads.indexOf(t);
      if (i >= 0) this.#threads[i] = this.#spawn();
      this.#pump();
    };
    return t;
  }

  /** Stops the threads; queued calls are refused. Threads blocked in the module exit when their call returns. */
  close(): void {
    this.#closed = true;
    for (const q of this.#queue.splice(0)) {
      clearTimeout(q.timer);
      q.reject(new TokenFault('closed', 'the token is closed'));
    }
    for (const t of this.#threads) t.terminate();
  }
}
