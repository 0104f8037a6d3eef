import { TokenFault } from './faults';

/** What the pool needs to make and dispose of a resource (a PKCS#11 session in production). */
export interface PoolFactory<T> {
  create(): T | Promise<T>;
  /** Called synchronously; an asynchronous close is not waited for (its failure means the resource is gone). */
  destroy(item: T): void | Promise<void>;
}

export interface PoolOptions {
  /** Most resources alive at once. */
  size: number;
  /** Most borrowers allowed to wait; one more is refused at once (a `busy` fault). */
  maxWaiting: number;
  /** Longest wait before a borrower is refused (a `busy` fault). */
  acquireTimeoutMs: number;
}

interface Waiter<T> {
  resolve(item: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A bounded pool with a bounded wait queue. Each resource is used by one borrower at a time
 * (two concurrent operations on one SoftHSM2 session crash it). Resources are created lazily,
 * returned with `release` or thrown away with `discard` (after a session fault).
 */
export class Pool<T> {
  readonly #factory: PoolFactory<T>;
  readonly #opts: PoolOptions;
  readonly #idle: T[] = [];
  readonly #waiters: Waiter<T>[] = [];
  readonly #busy = new Set<T>();
  #live = 0;
  #quarantined = 0;
  #closed = false;

  constructor(factory: PoolFactory<T>, opts: PoolOptions) {
    this.#factory = factory;
    this.#opts = opts;
  }

  /** Resources currently lent out. */
  get inUse(): number {
    return this.#busy.size;
  }
  /** Borrowers waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }
  /** Resources alive (idle or lent). */
  get live(): number {
    return this.#live;
  }

  /** Borrows a resource; resolves at once when one is idle or can be created. */
  acquire(): Promise<T> {
    if (this.#closed) return Promise.reject(closedFault());
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#busy.add(idle);
      return Promise.resolve(idle);
    }
    if (this.#live < this.#opts.size) return this.#createBusy();
    if (this.#waiters.length >= this.#opts.maxWaiting) {
      return Promise.reject(throttled());
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(throttled());
        }, this.#opts.acquireTimeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Returns a healthy resource. */
  release(item: T): void {
    if (!this.#busy.delete(item)) return;
    if (this.#closed) {
      this.#destroy(item);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this.#busy.add(item);
      waiter.resolve(item);
      return;
    }
    this.#idle.push(item);
  }

  /** Throws a broken resource away; a waiter, if any, gets a fresh one. */
  discard(item: T): void {
    if (!this.#busy.delete(item)) return;
    this.#destroy(item);
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.#createBusy().then(waiter.resolve, waiter.reject);
  }

  /**
   * Takes a lent resource out of service until `settled` (a call still running on it past its deadline), then
   * destroys it. It keeps its place in `live` meanwhile, so the pool never has more resources than `size`.
   */
  quarantine(item: T, settled: Promise<void>): void {
    if (!this.#busy.delete(item)) return;
    this.#quarantined++;
    void settled.finally(() => {
      this.#quarantined--;
      this.#destroy(item);
      const waiter = this.#closed ? undefined : this.#waiters.shift();
      if (!waiter) return;
      clearTimeout(waiter.timer);
      this.#createBusy().then(waiter.resolve, waiter.reject);
    });
  }

  /** Resources out of service until a late call on them returns. */
  get quarantined(): number {
    return this.#quarantined;
  }

  /** Destroys every idle resource (lent ones are destroyed when they come back) and rejects waiters. */
  drainIdle(): void {
    for (const item of this.#idle.splice(0)) this.#destroy(item);
  }

  /** Rejects all waiters with the given error (used when recovery starts or the pool closes). */
  rejectWaiters(err: Error): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** Stops lending; idle resources are destroyed now, lent ones when released. */
  close(): void {
    this.#closed = true;
    this.rejectWaiters(closedFault());
    this.drainIdle();
  }

  /** Reserves a place, then creates; a failed creation gives the place back. */
  async #createBusy(): Promise<T> {
    this.#live++;
    let item: T;
    try {
      item = await this.#factory.create();
    } catch (e) {
      this.#live--;
      throw e;
    }
    if (this.#closed) {
      this.#destroy(item);
      throw closedFault();
    }
    this.#busy.add(item);
    return item;
  }

  #destroy(item: T): void {
    this.#live--;
    try {
      const done = this.#factory.destroy(item);
      // A session that cannot be closed is already gone (for example after C_Finalize).
      if (done instanceof Promise) done.catch(() => undefined);
    } catch {
      // As above, for a synchronous destroy.
    }
  }
}

/**
 * The hint given with a `busy` fault: a signing call holds a session for milliseconds, so a queue that is full now
 * has room again within about this long.
 */
const BUSY_RETRY_AFTER_MS = 100;

function throttled(): TokenFault {
  return new TokenFault('busy', 'every session of the token is busy', { retryAfterMs: BUSY_RETRY_AFTER_MS });
}

function closedFault(): TokenFault {
  return new TokenFault('unavailable', 'the session pool is closed');
}
