import type { Worker } from 'node:cluster';
import { LoginLedger } from '../token/loginGate';
import type { LoginAnswerMessage, LoginAskMessage, LoginOutcomeMessage } from './messages';

interface Asked {
  worker: Worker;
  id: number;
}

/**
 * The cluster primary's login gate (src/token/loginGate.ts): a PIN value that a token refused is never tried again by
 * any worker, and while one worker tries a value the others wait for its outcome, so a wrong PIN costs one C_Login
 * in all workers together, not one per worker per retry.
 */
export class LoginAuthority {
  readonly #ledger = new LoginLedger();
  readonly #waiting = new Map<string, Asked[]>();
  /** Which worker holds the try of a value, so that its death releases it. */
  readonly #holders = new Map<string, Worker>();

  ask(worker: Worker, m: LoginAskMessage): void {
    const key = `${m.token}\u0000${m.fingerprint}`;
    const d = this.#ledger.decide(m.token, m.fingerprint);
    if (d === 'wait') {
      const list = this.#waiting.get(key) ?? [];
      list.push({ worker, id: m.id });
      this.#waiting.set(key, list);
      return;
    }
    if (d === 'yes') this.#holders.set(key, worker);
    answer(worker, m.id, d === 'yes');
  }

  outcome(m: LoginOutcomeMessage): void {
    this.#settle(m.token, m.fingerprint, m.ok);
  }

  /** A worker died: a try it held is no verdict on the PIN; the next waiter may try. */
  workerGone(worker: Worker): void {
    for (const [key, holder] of [...this.#holders]) {
      if (holder !== worker) continue;
      const [token, fingerprint] = key.split('\u0000') as [string, string];
      this.#settle(token, fingerprint, true);
    }
  }

  #settle(token: string, fingerprint: string, ok: boolean): void {
    const key = `${token}\u0000${fingerprint}`;
    this.#holders.delete(key);
    this.#ledger.settle(token, fingerprint, ok);
    const waiting = this.#waiting.get(key) ?? [];
    this.#waiting.delete(key);
    for (const w of waiting) {
      if (!w.worker.isConnected()) continue;
      this.ask(w.worker, { p11bridge: 'login?', id: w.id, token, fingerprint });
    }
  }
}

function answer(worker: Worker, id: number, allow: boolean): void {
  const m: LoginAnswerMessage = { p11bridge: 'login?', id, allow };
  if (worker.isConnected()) worker.send(m);
}
