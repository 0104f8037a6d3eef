/**
 * What a token tells observers (metrics, the health tracker): its state changes and every PKCS#11 call it made.
 * The token floor emits them; anything may subscribe. Types are plain strings here (the ground floor knows no
 * token types): `state` is a TokenState of src/token/tokenManager.ts.
 */
export type TokenEvent =
  | {
      readonly kind: 'state';
      readonly token: string;
      readonly state: string;
      readonly previous: string;
      readonly reason: string | undefined;
    }
  | {
      readonly kind: 'call';
      readonly token: string;
      /** `sign`, `decrypt`, `findObjects`, `readObjects` or the PKCS#11 function name (`C_Login`, …). */
      readonly operation: string;
      readonly seconds: number;
      /** Undefined on success; else the CKR_* name, or `deadline` for a call that did not answer in time. */
      readonly error: string | undefined;
      /** The recovery rung the error belongs to (`input`, `session`, `device`, … or `timeout`), when it failed. */
      readonly fault: string | undefined;
    };

/** Receives a token's events. */
export type TokenListener = (event: TokenEvent) => void;

/** A token's subscribers. Listeners run synchronously and must stay small; their exceptions are dropped. */
export class TokenEvents {
  readonly #listeners: TokenListener[] = [];

  /** Adds a listener for every later event. */
  subscribe(listener: TokenListener): void {
    this.#listeners.push(listener);
  }

  /** True when someone listens (the token skips timing its calls otherwise). */
  get active(): boolean {
    return this.#listeners.length > 0;
  }

  /** Hands an event to every listener. */
  emit(event: TokenEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A listener's bug must not fail a token call or a state change.
      }
    }
  }
}
