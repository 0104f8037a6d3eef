import { createHmac, randomBytes } from 'node:crypto';

/**
 * PIN safety: a PIN the token refused is never tried again by itself (a real HSM locks the account after a few
 * bad logins). A gate remembers, per token, the PIN values that failed (as keyed fingerprints, never the PIN) and
 * lets at most one caller try a value whose outcome is not known yet. In cluster mode the primary holds the gate
 * for every worker (src/cluster/loginAuthority.ts), so a PIN value is tried at most once after a failure in all
 * workers together.
 */
export interface LoginGate {
  /** Resolves true when this process may call C_Login with this PIN value now, false when it failed before. */
  mayTry(token: string, fingerprint: string): Promise<boolean>;
  /** The outcome of a login the gate allowed. */
  report(token: string, fingerprint: string, ok: boolean): void;
}

/** Environment variable through which the cluster primary gives its workers one fingerprint key. */
const PIN_KEY_ENV = 'P11BRIDGE_PIN_FINGERPRINT_KEY';

const fingerprintKey: Buffer = (() => {
  const fromEnv = process.env[PIN_KEY_ENV];
  if (fromEnv && /^[0-9a-f]{64}$/.test(fromEnv)) return Buffer.from(fromEnv, 'hex');
  const key = randomBytes(32);
  process.env[PIN_KEY_ENV] = key.toString('hex');
  return key;
})();

/** A keyed fingerprint of a PIN value: equal PINs compare equal across the processes of one daemon. */
export function pinFingerprint(pin: string | undefined): string {
  return createHmac('sha256', fingerprintKey)
    .update(pin ?? '')
    .digest('hex')
    .slice(0, 32);
}

/**
 * The rules of a gate, as plain state: shared by the in-process gate and the cluster primary's.
 * `decide` answers now ('yes'/'no') or 'wait' when another caller is trying the same value.
 */
export class LoginLedger {
  readonly #failed = new Map<string, Set<string>>();
  readonly #trying = new Set<string>();

  decide(token: string, fingerprint: string): 'yes' | 'no' | 'wait' {
    if (this.#failed.get(token)?.has(fingerprint)) return 'no';
    const key = `${token}\u0000${fingerprint}`;
    if (this.#trying.has(key)) return 'wait';
    this.#trying.add(key);
    return 'yes';
  }

  /** Records an outcome; returns what waiting callers of that value may do now. */
  settle(token: string, fingerprint: string, ok: boolean): void {
    this.#trying.delete(`${token}\u0000${fingerprint}`);
    if (ok) return;
    let set = this.#failed.get(token);
    if (!set) this.#failed.set(token, (set = new Set()));
    set.add(fingerprint);
  }
}

/** The gate of a single process. */
export class LocalLoginGate implements LoginGate {
  readonly #ledger = new LoginLedger();
  readonly #waiting = new Map<string, Array<() => void>>();

  async mayTry(token: string, fingerprint: string): Promise<boolean> {
    for (;;) {
      const d = this.#ledger.decide(token, fingerprint);
      if (d !== 'wait') return d === 'yes';
      const key = `${token}\u0000${fingerprint}`;
      await new Promise<void>((resolve) => {
        const list = this.#waiting.get(key) ?? [];
        list.push(resolve);
        this.#waiting.set(key, list);
      });
    }
  }

  report(token: string, fingerprint: string, ok: boolean): void {
    this.#ledger.settle(token, fingerprint, ok);
    const key = `${token}\u0000${fingerprint}`;
    const list = this.#waiting.get(key) ?? [];
    this.#waiting.delete(key);
    for (const w of list) w();
  }
}
