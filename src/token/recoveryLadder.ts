import { setTimeout as delay } from 'node:timers/promises';
import type * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import type { Logger } from '../observability/logger';
import { classify, describeFault } from './ckr';
import { isTokenFault, TokenFault } from './faults';
import type { Pkcs11Module } from './module';
import type { RemoteLib } from './remoteLib';
import type { Pkcs11Executor } from './thread/executor';
import type { TokenStatus } from './tokenState';

/** What the ladder works on: the token's parts as they are now (they change at each connect and close). */
export interface LadderParts {
  readonly config: TokenConfig;
  readonly log: Logger;
  readonly status: TokenStatus;
  module(): Pkcs11Module | undefined;
  executor(): Pkcs11Executor | undefined;
  lib(): RemoteLib;
  adminSession(): pkcs11.Handle | undefined;
  /** C_Login on the admin session through the PIN-safe login (a refused PIN makes the token unavailable). */
  login(session: pkcs11.Handle): Promise<void>;
  /** Why the PIN is kept from logging in, or undefined. */
  pinRefused(): string | undefined;
  /** A full re-read of the key index. */
  readIndex(): Promise<void>;
  /** Refuses the requests waiting for a pooled session (the token stopped serving). */
  refuseWaiting(err: Error): void;
}

/**
 * The token's rungs of the recovery ladder (docs/hsm/README.md): session fault → the session is discarded (by
 * TokenSessions); stale handle → re-read the index; lost login → log in again; device fault → the module's
 * coordinated re-initialisation; a call past its deadline → unavailable until the token answers again, or the
 * last rung when it never does.
 */
export class RecoveryLadder {
  readonly #p: LadderParts;
  #relogin: Promise<void> | undefined;
  #watching = false;

  constructor(parts: LadderParts) {
    this.#p = parts;
  }

  /** Answers a fault with its rung of the ladder; true when the operation may be retried once. */
  async onFault(e: unknown, mayRetry = true): Promise<boolean> {
    const { log, config } = this.#p;
    if (isTokenFault(e, 'timeout')) {
      this.#onHang(e);
      return false;
    }
    if (isTokenFault(e)) return false;
    const fault = classify(e);
    switch (fault) {
      case 'stale': {
        log.warn({ ckr: describeFault(e) }, 'stale object handle: re-reading the key index');
        // A full index read may take far longer than one operation (a token being rewritten, thousands of objects):
        // the request waits for it at most its own deadline, then is refused; the read goes on in the background.
        const read = this.#p.readIndex().then(
          () => true,
          () => false,
        );
        const inTime = await Promise.race([read, delay(config.timeouts.operationMs, false, { ref: false })]);
        return mayRetry && inTime;
      }
      case 'login':
        log.warn('the token forgot our login: logging in again');
        await this.#reloginOnce().catch(() => undefined);
        return mayRetry && this.#p.status.isReady();
      case 'device':
        log.warn({ ckr: describeFault(e) }, 'device fault: re-initialising the module');
        void this.#p.module()?.recover(e);
        return false;
      case 'capacity':
        log.warn({ ckr: describeFault(e) }, 'the token is out of sessions or memory; request refused');
        return false;
      default:
        return false;
    }
  }

  /** Single-flight re-login on the admin session (PIN-safe). */
  #reloginOnce(): Promise<void> {
    this.#relogin ??= (async () => {
      const session = this.#p.adminSession();
      if (!session) return;
      try {
        await this.#p.login(session);
      } catch (e) {
        if (this.#p.pinRefused() === undefined) {
          this.#p.log.warn({ err: describeFault(e) }, 're-login failed');
          if (classify(e) === 'session' || classify(e) === 'device') void this.#p.module()?.recover(e);
        }
        throw e;
      }
    })().finally(() => {
      this.#relogin = undefined;
    });
    return this.#relogin;
  }

  /**
   * A call passed its deadline: the token is unavailable (requests are refused at once, not queued behind the hang)
   * until its stuck calls return and the admin session answers. A hang that outlasts `recovery.stuckExitMs` is the
   * last rung: the process cannot finalise a module with calls inside it, so it exits for its supervisor.
   */
  #onHang(e: TokenFault): void {
    const { status, config, log } = this.#p;
    if (status.state !== 'ready') return;
    const ms = config.timeouts.operationMs;
    const reason = `a call to the token did not answer within ${ms} ms`;
    status.set('unavailable', reason);
    // Requests already waiting for a session would get one only when the hang ends, long past their deadline.
    this.#p.refuseWaiting(new TokenFault('unavailable', reason));
    log.error({ err: e.message }, 'token call passed its deadline: token unavailable until it answers');
    if (this.#watching) return;
    this.#watching = true;
    void this.#watchHang().finally(() => {
      this.#watching = false;
    });
  }

  /**
   * Brings a hung token back once its stuck calls returned and its admin session answers. It acts only while the
   * token is still in the very state the hang put it in: any other change meanwhile (a module re-initialisation, a
   * refused PIN, a close) ends the watch, so it can never mark a token ready that something else took down.
   */
  async #watchHang(): Promise<void> {
    const { status, config, log } = this.#p;
    const executor = this.#p.executor();
    const generation = status.generation;
    const current = (): boolean => status.generation === generation && status.state === 'unavailable';
    while (executor && current()) {
      await delay(200, undefined, { ref: false });
      if (!current()) return;
      const stuck = executor.stuck;
      if (stuck.count > 0) {
        if (stuck.since !== undefined && Date.now() - stuck.since > config.recovery.stuckExitMs) {
          this.#p
            .module()
            ?.onFatal(`a call into token ${config.name} has not returned for ${Date.now() - stuck.since} ms`);
          return;
        }
        continue;
      }
      const session = this.#p.adminSession();
      if (!session) return;
      try {
        await this.#p.lib().C_GetSessionInfo(session);
        if (!current()) return;
        status.set('ready');
        log.info('token answers again');
        return;
      } catch (err) {
        if (!current()) return;
        if (isTokenFault(err, 'timeout')) continue;
        const fault = classify(err);
        if (fault === 'device' || fault === 'session') {
          void this.#p.module()?.recover(err);
          return;
        }
      }
    }
  }
}
