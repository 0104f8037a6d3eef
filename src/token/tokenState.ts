import { TokenFault } from './faults';

/**
 * `ready`: serving. `recovering`: a rung of the ladder is running (re-login, module re-initialisation).
 * `unavailable`: cannot serve until something changes (`reason` says what: a hang, a refused PIN, a missing token).
 */
export type TokenState = 'closed' | 'opening' | 'ready' | 'recovering' | 'unavailable' | 'failed';

/** What the token layer tells /readyz (from state: no token call). */
export interface TokenHealth {
  readonly state: TokenState;
  readonly reason: string | undefined;
  readonly since: number;
}

/**
 * The state of one token and why it is in it. Every part of the token (sessions, index, ladder, signer) asks it
 * whether the token serves; only the token's lifecycle and its ladder change it.
 */
export class TokenStatus {
  readonly #name: string;
  #state: TokenState = 'closed';
  #reason: string | undefined;
  #since = Date.now();
  #generation = 0;

  constructor(name: string) {
    this.#name = name;
  }

  get state(): TokenState {
    return this.#state;
  }
  get health(): TokenHealth {
    return { state: this.#state, reason: this.#reason, since: this.#since };
  }
  /** Bumped at every state change: a background task that started in one state stops when it changed. */
  get generation(): number {
    return this.#generation;
  }

  /** Moves to `state`; a move to the state and reason it is already in changes nothing (not even the generation). */
  set(state: TokenState, reason?: string): void {
    if (this.#state === state && this.#reason === reason) return;
    this.#generation++;
    this.#state = state;
    this.#reason = reason;
    this.#since = Date.now();
  }

  /** True when the token serves (from state: no token call). */
  isReady(): boolean {
    return this.#state === 'ready';
  }

  /** Throws the token layer's fault unless the token serves: `closed` after shutdown, `unavailable` otherwise. */
  assertServing(): void {
    if (this.#state === 'ready') return;
    throw new TokenFault(
      this.#state === 'closed' ? 'closed' : 'unavailable',
      `token ${this.#name} is ${this.#state}${this.#reason ? `: ${this.#reason}` : ''}`,
    );
  }
}
