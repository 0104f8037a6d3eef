import type { TokenEvent, TokenEvents } from '../observability/tokenEvents';

/**
 * A token's health as /readyz and the metrics report it:
 * - `ACTIVE`: serving, no recent trouble;
 * - `DEGRADED`: serving, but a call failed for a reason other than the caller's input, or was slow, within the
 *   last `windowMs` (the token may be about to fail, or is overloaded);
 * - `UNAVAILABLE`: not serving (opening, recovering, a hang, a refused PIN, closed), with the reason.
 */
export type HealthStatus = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';

export interface HealthOptions {
  /** How long an error or a slow call keeps the token DEGRADED. */
  readonly windowMs: number;
  /** A signing or decryption call that took at least this long counts as slow. */
  readonly slowCallMs: number;
}

export interface TokenHealthReport {
  readonly status: HealthStatus;
  /** Why the token is not ACTIVE (the last error or slow call, or the token's own reason). */
  readonly reason: string | undefined;
  /** The token layer's state (`ready`, `recovering`, `unavailable`, …). */
  readonly state: string;
  /** When the token last changed state (ms epoch). */
  readonly since: number;
  /** Calls that failed (not for bad input) and slow calls within the window. */
  readonly recentErrors: number;
  readonly recentSlowCalls: number;
}

/**
 * Calls whose duration says nothing about the token's health: key generation, full index reads and module
 * (re)initialisation take seconds by design.
 */
const NOT_TIMED = new Set(['C_GenerateKeyPair', 'readObjects', 'C_Initialize', 'C_Finalize', 'C_Login']);

/** Errors that are the caller's fault (or the pool's back-pressure): the token itself is fine. */
const NOT_TOKEN_TROUBLE = new Set(['input', 'stale', 'busy', 'closed']);

/**
 * Keeps one token's health from its events (state changes, call outcomes): answering is a read of memory, never a
 * token call, so /readyz stays fast while the token hangs. Old evidence is dropped lazily, when asked.
 */
export class TokenHealthTracker {
  readonly #opts: HealthOptions;
  readonly #now: () => number;
  #state = 'closed';
  #stateReason: string | undefined;
  #since: number;
  /** Times (ms epoch) of recent troubled calls, oldest first, with the description of the last one. */
  readonly #errors: number[] = [];
  readonly #slow: number[] = [];
  #lastTrouble: string | undefined;

  constructor(events: TokenEvents, opts: HealthOptions, now: () => number = Date.now) {
    this.#opts = opts;
    this.#now = now;
    this.#since = now();
    events.subscribe((e) => this.#on(e));
  }

  #on(e: TokenEvent): void {
    if (e.kind === 'state') {
      this.#state = e.state;
      this.#stateReason = e.reason;
      this.#since = this.#now();
      return;
    }
    if (e.error !== undefined && !NOT_TOKEN_TROUBLE.has(e.fault ?? '')) {
      this.#errors.push(this.#now());
      this.#lastTrouble = `${e.operation} failed with ${e.error}`;
    } else if (e.error === undefined && e.seconds * 1000 >= this.#opts.slowCallMs && !NOT_TIMED.has(e.operation)) {
      this.#slow.push(this.#now());
      this.#lastTrouble = `${e.operation} took ${Math.round(e.seconds * 1000)} ms`;
    }
    // Bounded memory under a storm of failures: only whether there were some, and roughly how many, matters.
    if (this.#errors.length > 1000) this.#errors.splice(0, 500);
    if (this.#slow.length > 1000) this.#slow.splice(0, 500);
  }

  /** The token's health now. */
  report(): TokenHealthReport {
    const cutoff = this.#now() - this.#opts.windowMs;
    prune(this.#errors, cutoff);
    prune(this.#slow, cutoff);
    const base = {
      state: this.#state,
      since: this.#since,
      recentErrors: this.#errors.length,
      recentSlowCalls: this.#slow.length,
    };
    if (this.#state !== 'ready') {
      return { ...base, status: 'UNAVAILABLE', reason: this.#stateReason ?? this.#state };
    }
    if (this.#errors.length > 0 || this.#slow.length > 0)
      return { ...base, status: 'DEGRADED', reason: this.#lastTrouble };
    return { ...base, status: 'ACTIVE', reason: undefined };
  }
}

function prune(times: number[], cutoff: number): void {
  let n = 0;
  while (n < times.length && (times[n] ?? 0) < cutoff) n++;
  if (n > 0) times.splice(0, n);
}
