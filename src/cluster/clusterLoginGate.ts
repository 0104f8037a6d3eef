import type { LoginGate } from '../token/loginGate';
import type { LoginAnswerMessage, WorkerMessage } from './messages';

/** A worker's login gate: asks the primary's LoginAuthority (src/cluster/loginAuthority.ts). */
export class ClusterLoginGate implements LoginGate {
  readonly #send: (m: WorkerMessage) => void;
  readonly #pending = new Map<number, (allow: boolean) => void>();
  #next = 1;

  constructor(send: (m: WorkerMessage) => void) {
    this.#send = send;
  }

  mayTry(token: string, fingerprint: string): Promise<boolean> {
    const id = this.#next++;
    return new Promise<boolean>((resolve) => {
      this.#pending.set(id, resolve);
      this.#send({ p11bridge: 'login?', id, token, fingerprint });
    });
  }

  report(token: string, fingerprint: string, ok: boolean): void {
    this.#send({ p11bridge: 'login!', token, fingerprint, ok });
  }

  /** The primary's answer to one of our questions. */
  receive(m: LoginAnswerMessage): void {
    const resolve = this.#pending.get(m.id);
    this.#pending.delete(m.id);
    resolve?.(m.allow);
  }
}
