import * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import { resolveSecret } from '../config/secret';
import type { Logger } from '../observability/logger';
import { classify, describeFault, isAlreadyLoggedIn } from './ckr';
import { TokenFault } from './faults';
import { pinFingerprint, type LoginGate } from './loginGate';
import type { RemoteLib } from './remoteLib';

/**
 * C_Login for one token, PIN-safe: a PIN value the token refused is never tried again (by any worker: the gate,
 * src/token/loginGate.ts); the refusal is remembered as `refused` until the operator changes the PIN and reloads.
 * The PIN is read at start and at each reload, and goes to C_Login and nowhere else.
 */
export class PinLogin {
  readonly #token: string;
  readonly #secret: TokenConfig['pin'];
  readonly #gate: LoginGate;
  readonly #log: Logger;
  #pin: string | undefined;
  /** The fingerprint of the PIN as read now (the gate's key for it). */
  #fingerprint = pinFingerprint(undefined);
  /** The last refusal, and of which value: a refusal holds only while that value is the configured one. */
  #refusal: { fingerprint: string; reason: string } | undefined;

  constructor(token: string, secret: TokenConfig['pin'], gate: LoginGate, log: Logger) {
    this.#token = token;
    this.#secret = secret;
    this.#gate = gate;
    this.#log = log;
  }

  /**
   * Why the token is kept from logging in (the PIN value configured now was refused), or undefined. Once the
   * operator writes another value and reloads, the old refusal no longer explains anything: a failure of the next
   * attempt that comes before its C_Login (a device fault, SoftHSM2 rewriting its file under another process's
   * login) is an ordinary fault, retried, not a PIN verdict that would leave the token waiting for the operator.
   */
  get refused(): string | undefined {
    return this.#refusal?.fingerprint === this.#fingerprint ? this.#refusal.reason : undefined;
  }

  /** Reads the PIN from its secret reference (at start; at reload). False when it cannot be read (logged). */
  readPin(): boolean {
    try {
      this.#pin = resolveSecret(this.#secret).reveal();
      this.#fingerprint = pinFingerprint(this.#pin);
      return true;
    } catch (e) {
      this.#log.error({ err: (e as Error).message }, 'the PIN could not be read; keeping the previous one');
      return false;
    }
  }

  /** Logs in on `session`. CKR_USER_ALREADY_LOGGED_IN is success (login is per application, not per session). */
  async login(lib: RemoteLib, session: pkcs11.Handle): Promise<void> {
    // The value is taken once: a reload while the gate is asked must not send a value the gate was not asked about.
    const pin = this.#pin;
    const fp = this.#fingerprint;
    if (!(await this.#gate.mayTry(this.#token, fp))) {
      if (this.#refusal?.fingerprint !== fp) {
        this.#refusal = { fingerprint: fp, reason: 'the token refused this PIN value before' };
      }
      throw new TokenFault('unavailable', this.#refusal.reason);
    }
    // A value the gate lets us try is not (yet) refused: an earlier refusal no longer explains a failure from here
    // on, so a non-PIN failure of this try takes the ordinary rungs (logged, retried) instead of being mistaken for it.
    this.#refusal = undefined;
    try {
      await lib.C_Login(session, pkcs11.CKU_USER, pin);
      this.#gate.report(this.#token, fp, true);
    } catch (e) {
      if (isAlreadyLoggedIn(e)) {
        this.#gate.report(this.#token, fp, true);
        return;
      }
      if (classify(e) === 'pin') {
        this.#gate.report(this.#token, fp, false);
        this.#refusal = { fingerprint: fp, reason: `the token refused the PIN (${describeFault(e)})` };
        this.#log.error(
          { ckr: describeFault(e) },
          'the token refused the PIN: not retried (an HSM locks the account); fix the PIN file, then reload (SIGHUP)',
        );
      } else {
        // Not a verdict on the PIN (a device or session fault): the gate lets the next attempt try this value.
        this.#gate.report(this.#token, fp, true);
      }
      throw e;
    }
  }
}
