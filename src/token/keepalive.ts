import type * as pkcs11 from 'pkcs11js';
import { classify } from './ckr';
import { isTokenFault } from './faults';
import type { RemoteLib } from './remoteLib';
import type { Pool } from './sessionPool';

/**
 * How often the keepalive runs for an HSM that drops sessions idle for `idleTimeoutMs`: three times per timeout, so
 * a session that went idle just after one pass is touched well before the HSM forgets it (one pass may be slow).
 */
function keepaliveInterval(idleTimeoutMs: number): number {
  return Math.max(100, Math.floor(idleTimeoutMs / 3));
}

/**
 * Touches every idle pooled session with C_GetSessionInfo (the cheapest call that reaches the HSM), one at a time,
 * so that an HSM with an idle timeout keeps them. A session that fails is discarded (the next borrower gets a fresh
 * one) instead of failing a signing request later; one past its deadline is quarantined like any other. Sessions lent
 * out are busy, hence not idle, and are left alone. Resolves with how many sessions were touched and dropped.
 */
export async function touchIdleSessions(
  pool: Pool<pkcs11.Handle>,
  lib: RemoteLib,
): Promise<{ touched: number; dropped: number }> {
  let touched = 0;
  let dropped = 0;
  for (const session of pool.takeIdle()) {
    try {
      await lib.C_GetSessionInfo(session);
      pool.release(session);
      touched++;
    } catch (e) {
      dropped++;
      if (isTokenFault(e, 'timeout')) pool.quarantine(session, e.settled ?? Promise.resolve());
      else if (classify(e) === 'input') pool.release(session);
      else pool.discard(session);
    }
  }
  return { touched, dropped };
}

/** The keepalive's timer: one pass at a time, every third of the HSM's idle timeout; never keeps the process alive. */
export class Keepalive {
  #timer: NodeJS.Timeout | undefined;

  /** Runs `pass` every {@link keepaliveInterval} of `idleTimeoutMs`; a pass still running skips the next tick. */
  start(idleTimeoutMs: number, pass: () => Promise<void>): void {
    if (this.#timer) return;
    let running = false;
    this.#timer = setInterval(() => {
      if (running) return;
      running = true;
      void pass().finally(() => {
        running = false;
      });
    }, keepaliveInterval(idleTimeoutMs));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
