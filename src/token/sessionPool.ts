import { ApiError } from '../errors/apiError';

/** What the pool needs to make and dispose of a resource (a PKCS#11 session in production). */
export interface PoolFactory<T> {
  create(): T;
  destroy(item: T): void;
}

export interface PoolOptions {
  /** Most resources alive at once. */
  size: number;
  /** Most borrowers allowed to wait; one more is refused at once with Throttling.User. */
  maxWaiting: number;
  /** Longest wait before a borrower is refused with Throttling.User. */
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
    if (this.#closed) return Promise.reject(new ApiError('ServiceUnavailable'));
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#busy.add(idle);
      return Promise.resolve(idle);
    }
    if (this.#live < this.#opts.size) {
      try {
        return Promise.resolve(this.#createBusy());
      } catch (e) {
        return Promise.reject(e);
      }
    }
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
    try {
      waiter.resolve(this.#createBusy());
    } catch (e) {
      waiter.reject(e as Error);
    }
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
    this.rejectWaiters(new ApiError('ServiceUnavailable'));
    this.drainIdle();
  }

  /** Reopens a closed pool (after a module re-initialisation). */
  reopen(): void {
    this.#closed = false;
  }

  #createBusy(): T {
    const item = this.#factory.create();
    this.#live++;
    this.#busy.add(item);
    return item;
  }

  #destroy(item: T): void {
    this.#live--;
    try {
      this.#factory.destroy(item);
    } catch {
      // A session that cannot be closed is already gone (for example after C_Finalize).
    }
  }
}

function throttled(): ApiError {
  return new ApiError('Throttling.User', undefined, { headers: { 'x-acs-retry-after': '100' } });
}
