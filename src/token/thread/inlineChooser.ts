/**
 * Decides, per kind of signature, whether a PKCS#11 thread makes it inline (C_SignInit + C_Sign on the thread
 * itself) or hands C_Sign to the libuv threadpool (C_SignAsync).
 *
 * The threadpool hop costs two more thread wake-ups per signature (the pool thread, then the PKCS#11 thread again
 * for the completion): on the 2-core benchmark VM about 60 µs of CPU, more than SoftHSM2 spends on a whole P-256
 * signature (docs/performance.md). It pays only when the call is slow, because inline calls of one token run one
 * after another: a network HSM that takes milliseconds per signature must keep many in flight. So a kind that has
 * been measured fast runs inline, and any other kind (unmeasured ones first run inline once, to be measured) goes
 * to the threadpool.
 *
 * A kind's cost is the fastest of its last {@link WINDOW} inline runs: on a busy machine a run can be preempted
 * for milliseconds, which says nothing about the token, while a token that really slowed down makes every run slow
 * and so moves the minimum within {@link WINDOW} calls. A kind on the threadpool is measured inline again at most
 * once per `reprobeMs`, so a token that recovered its speed gets the cheap path back.
 */
export class InlineChooser {
  readonly #thresholdUs: number;
  readonly #reprobeMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, Kind>();

  /**
   * @param thresholdUs a kind runs inline while its measured cost is at most this (µs)
   * @param reprobeMs how often a kind on the threadpool is measured inline again
   * @param now the clock, ms (injected for tests)
   */
  constructor(thresholdUs: number, reprobeMs: number, now: () => number = Date.now) {
    this.#thresholdUs = thresholdUs;
    this.#reprobeMs = reprobeMs;
    this.#now = now;
  }

  /** Whether the next call of `kind` runs inline (true also for a call that re-measures a slow kind). */
  inline(kind: string): boolean {
    const k = this.#kinds.get(kind);
    if (!k || k.fast) return true;
    const now = this.#now();
    if (now - k.probedAt < this.#reprobeMs) return false;
    k.probedAt = now;
    return true;
  }

  /** Records how long an inline call of `kind` took (µs, C_SignInit + C_Sign). */
  record(kind: string, us: number): void {
    let k = this.#kinds.get(kind);
    if (!k) {
      k = { recent: [], next: 0, fast: true, probedAt: this.#now() };
      this.#kinds.set(kind, k);
    }
    if (k.recent.length < WINDOW) k.recent.push(us);
    else k.recent[k.next] = us;
    k.next = (k.next + 1) % WINDOW;
    k.fast = Math.min(...k.recent) <= this.#thresholdUs;
  }
}

interface Kind {
  /** The last inline durations, µs (a ring of at most WINDOW). */
  recent: number[];
  next: number;
  fast: boolean;
  /** When a slow kind last ran inline to be measured again, ms. */
  probedAt: number;
}

/** How many recent inline runs a kind's cost is the minimum of. */
const WINDOW = 8;
