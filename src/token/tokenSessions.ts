import * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import { classify } from './ckr';
import { isTokenFault, TokenFault } from './faults';
import { touchIdleSessions } from './keepalive';
import type { RemoteLib } from './remoteLib';
import { Pool } from './sessionPool';
import { leftOperationActive } from './thread/pkcs11Thread';
import type { TokenStatus } from './tokenState';

const SESSION_FLAGS = pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION;

/** Sessions lent out, waiting borrowers, live and quarantined sessions (for metrics and tests). */
export interface PoolStats {
  inUse: number;
  waiting: number;
  live: number;
  quarantined: number;
}

/**
 * The sessions of one token: the admin (login) session, on which admin call sequences run one at a time, and the
 * pool the private-key operations borrow from. A borrowed session goes back, or is discarded when its error says it
 * is broken, or is quarantined until a call past its deadline returns. Counts the operations in flight, so that a
 * re-initialisation or a close can wait for them.
 */
export class TokenSessions {
  readonly #status: TokenStatus;
  readonly #lib: () => RemoteLib;
  #pool: Pool<pkcs11.Handle> | undefined;
  #adminSession: pkcs11.Handle | undefined;
  #adminQueue: Promise<unknown> = Promise.resolve();
  #inflight = 0;

  constructor(status: TokenStatus, lib: () => RemoteLib) {
    this.#status = status;
    this.#lib = lib;
  }

  /** The logged-in admin session, while the token is connected. */
  get adminSession(): pkcs11.Handle | undefined {
    return this.#adminSession;
  }
  /** Operations running on pooled sessions now. */
  get inflight(): number {
    return this.#inflight;
  }
  get stats(): PoolStats {
    const p = this.#pool;
    return p
      ? { inUse: p.inUse, waiting: p.waiting, live: p.live, quarantined: p.quarantined }
      : { inUse: 0, waiting: 0, live: 0, quarantined: 0 };
  }

  /** Opens a session on `slot` (not yet the admin session: `connect` makes it so once it is logged in). */
  openSession(slot: pkcs11.Handle): Promise<pkcs11.Handle> {
    return this.#lib().C_OpenSession(slot, SESSION_FLAGS);
  }

  /** The token is connected: `admin` is its logged-in session; pooled sessions are opened on `slot` as needed. */
  connect(slot: pkcs11.Handle, admin: pkcs11.Handle, sizes: TokenConfig['sessions']): void {
    const lib = this.#lib();
    this.#adminSession = admin;
    this.#pool = new Pool<pkcs11.Handle>(
      {
        create: () => lib.C_OpenSession(slot, SESSION_FLAGS),
        destroy: (s) => lib.C_CloseSession(s),
      },
      sizes,
    );
  }

  /** Stops lending and forgets the sessions (the module is about to be finalised, or the token closes). */
  drop(): void {
    this.#pool?.close();
    this.#pool = undefined;
    this.#adminSession = undefined;
  }

  /** Refuses every borrower waiting for a session now (the token stopped serving: they must not queue behind it). */
  refuseWaiting(err: Error): void {
    this.#pool?.rejectWaiters(err);
  }

  /** Stops lending; the admin session stays (a close waits for in-flight operations before it tears down). */
  stopLending(): void {
    this.#pool?.close();
  }

  /**
   * Runs `fn` with a pooled session of its own and the token's calls. The session goes back to the pool, or is
   * discarded when the error says it is broken or left mid-operation, or is quarantined until a call that passed
   * its deadline returns. Errors are the token layer's own (PKCS#11 errors, TokenFaults).
   */
  async withSession<T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> {
    this.#status.assertServing();
    const pool = this.#pool;
    const lib = this.#lib();
    if (!pool) throw new TokenFault('unavailable', 'no session pool');
    const session = await pool.acquire();
    try {
      // A wait for a session can outlast the token's serving (a hang declared meanwhile): judge again.
      this.#status.assertServing();
    } catch (e) {
      pool.release(session);
      throw e;
    }
    this.#inflight++;
    try {
      const result = await fn(session, lib);
      pool.release(session);
      return result;
    } catch (e) {
      if (isTokenFault(e, 'timeout')) pool.quarantine(session, e.settled ?? Promise.resolve());
      else if (leftOperationActive(e) || ['session', 'device', 'internal'].includes(classify(e))) pool.discard(session);
      else pool.release(session);
      throw e;
    } finally {
      this.#inflight--;
    }
  }

  /**
   * The keepalive's pass: every idle pooled session, then the admin session, gets a C_GetSessionInfo (an HSM with an
   * idle timeout keeps them); a pooled session that fails is dropped. Rejects when the admin session does not answer.
   */
  async keepAlive(): Promise<{ touched: number; dropped: number }> {
    const pool = this.#pool;
    const result = pool ? await touchIdleSessions(pool, this.#lib()) : { touched: 0, dropped: 0 };
    await this.admin((session, lib) => lib.C_GetSessionInfo(session));
    return result;
  }

  /**
   * Runs an admin call sequence on the admin session, one sequence at a time (a C_FindObjects sequence must not
   * interleave with another on the same session). Lifecycle writes, index reads and the health check use it.
   */
  admin<T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const session = this.#adminSession;
      const state = this.#status.state;
      if (!session || (state !== 'ready' && state !== 'recovering' && state !== 'opening')) {
        this.#status.assertServing();
      }
      return fn(session as pkcs11.Handle, this.#lib());
    };
    const next = this.#adminQueue.then(run, run);
    this.#adminQueue = next.catch(() => undefined);
    return next;
  }
}
