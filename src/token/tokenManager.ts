import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import type { KeySpecRow, SignatureAlgorithm, Sm2Profile } from '../crypto/algorithms';
import type { SignSubject } from '../crypto/signPlan';
import { SM2_DEFAULT_USER_ID } from '../crypto/sm2';
import type { Logger } from '../observability/logger';
import { TokenEvents } from '../observability/tokenEvents';
import { callEvents } from './callEvents';
import type { TokenCapabilities } from './capabilities';
import { classify, describeFault, isAlreadyInitialized, isNotInitialized } from './ckr';
import { TokenFault } from './faults';
import { TokenHealthTracker } from './health';
import { Keepalive } from './keepalive';
import type { DataRecord } from './keyDirectory';
import type { KeyEntry } from './keyIndex';
import { KnownCapabilities, readKeySizes } from './knownCapabilities';
import { LocalLoginGate, type LoginGate } from './loginGate';
import { Pkcs11Module, type ModuleMember } from './module';
import { PinLogin } from './pinLogin';
import { PrivateKeyOps, type KeySource } from './privateKeyOps';
import { FileRecordStore } from './records/fileRecordStore';
import type { RecordStore } from './records/recordStore';
import { TokenRecordStore } from './records/tokenRecordStore';
import { RecoveryLadder } from './recoveryLadder';
import { RemoteLib } from './remoteLib';
import { findSlot, TokenNotFound, tokenDisplayName } from './slots';
import { Pkcs11Executor } from './thread/executor';
import { TokenIndex } from './tokenIndex';
import { TokenSessions, type PoolStats } from './tokenSessions';
import { TokenStatus, type TokenHealth, type TokenState } from './tokenState';

export type { TokenCapabilities } from './capabilities';
export type { KeySource } from './privateKeyOps';
export type { TokenHealth, TokenState } from './tokenState';

export interface TokenManagerOptions {
  /** Where C_Login asks whether a PIN value may be tried (the cluster primary's gate in cluster mode). */
  readonly loginGate?: LoginGate;
  /** The last rung of the ladder (the daemon exits non-zero); default: log it. */
  readonly onFatal?: (reason: string) => void;
}

/**
 * One token, as the rest of the daemon sees it. It owns the token's lifecycle (open with retries at start, connect,
 * the module's re-initialisation as a ModuleMember, reload, close) and hands each other job to its part: the state
 * (tokenState.ts), the sessions (tokenSessions.ts), the key index (tokenIndex.ts), the capabilities
 * (knownCapabilities.ts), the recovery ladder (recoveryLadder.ts) and the signer/decryptor (privateKeyOps.ts).
 * Every PKCS#11 call runs in a PKCS#11 thread with a deadline (RemoteLib): the event loop never waits on the token.
 */
export class TokenManager implements ModuleMember {
  readonly config: TokenConfig;
  readonly #log: Logger;
  readonly #pinLogin: PinLogin;
  readonly #onFatal: ((reason: string) => void) | undefined;
  readonly #status: TokenStatus;
  /** The reconnect running now, if any (a reload waits for it: see reload()). */
  #reconnecting: Promise<void> | undefined;
  readonly #sessions: TokenSessions;
  readonly #index: TokenIndex;
  readonly #caps: KnownCapabilities;
  readonly #ladder: RecoveryLadder;
  readonly #ops: PrivateKeyOps;
  #module: Pkcs11Module | undefined;
  #executor: Pkcs11Executor | undefined;
  #lib: RemoteLib | undefined;
  #tokenInfo: pkcs11.TokenInfo | undefined;
  readonly #keepalive = new Keepalive();
  /** State changes and every PKCS#11 call, for the health tracker and metrics (subscribe before `open`). */
  readonly events = new TokenEvents();
  /** ACTIVE / DEGRADED / UNAVAILABLE from the events above (src/token/health.ts): what /readyz reports. */
  readonly healthTracker: TokenHealthTracker;
  /** Where lifecycle metadata and KMS key records live (`metadataStore`: on the token, or a file it vouches for). */
  readonly records: RecordStore;

  constructor(config: TokenConfig, log: Logger, opts: TokenManagerOptions = {}) {
    this.config = config;
    this.#log = log.child({ warehouseId: config.warehouseId, token: config.name });
    this.#pinLogin = new PinLogin(config.name, config.pin, opts.loginGate ?? new LocalLoginGate(), this.#log);
    this.#onFatal = opts.onFatal;
    this.#status = new TokenStatus(config.name, this.events);
    this.healthTracker = new TokenHealthTracker(this.events, config.health);
    this.#sessions = new TokenSessions(this.#status, () => this.#libOrFail);
    const admin = <T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> => this.admin(fn);
    this.records =
      config.metadataFile !== undefined && config.metadataStore === 'file'
        ? new FileRecordStore(config.metadataFile, admin, this.#log)
        : new TokenRecordStore(admin);
    // The records are read after the object read, not inside it: the file store asks the admin session for MACs.
    this.#index = new TokenIndex(config, this.#status, this.#log, async (label) =>
      this.records.overlay(await this.admin((session, lib) => lib.readObjects(session, label)), label),
    );
    this.#caps = new KnownCapabilities(config, this.#log);
    this.#ladder = new RecoveryLadder({
      config,
      log: this.#log,
      status: this.#status,
      module: () => this.#module,
      executor: () => this.#executor,
      lib: () => this.#libOrFail,
      adminSession: () => this.#sessions.adminSession,
      login: (session) => this.#login(session),
      pinRefused: () => this.#pinLogin.refused,
      readIndex: () => this.#index.read(),
      refuseWaiting: (err) => this.#sessions.refuseWaiting(err),
    });
    this.#ops = new PrivateKeyOps(this.#status, this.#index, this.#sessions, this.#caps, this.#ladder, config.sm2);
  }

  get name(): string {
    return this.config.name;
  }
  get state(): TokenState {
    return this.#status.state;
  }
  get health(): TokenHealth {
    return this.#status.health;
  }
  get warehouseId(): number {
    return this.config.warehouseId;
  }
  get capabilities(): TokenCapabilities {
    return this.#caps.current;
  }
  get tokenInfo(): pkcs11.TokenInfo | undefined {
    return this.#tokenInfo;
  }
  /** The token's SM2 HSM profile (config `sm2`), if it has one. */
  get sm2Profile(): Sm2Profile | undefined {
    return this.config.sm2;
  }
  /** The distinguishing ID this token's API SM2 signatures use (and their verification). */
  get sm2UserId(): string {
    return this.config.sm2?.userId ?? SM2_DEFAULT_USER_ID;
  }
  /** Sessions lent out, waiting borrowers, live and quarantined sessions (for metrics and tests). */
  get poolStats(): PoolStats {
    return this.#sessions.stats;
  }
  /** Told after this process changed the token's objects: cluster workers pass it on to their siblings. */
  get onIndexChanged(): ((id?: string) => void) | undefined {
    return this.#index.onChanged;
  }
  set onIndexChanged(fn: ((id?: string) => void) | undefined) {
    this.#index.onChanged = fn;
  }

  /**
   * Opens the token: module, threads, slot, login, index, then (in the background) the capability probe.
   * A token not found at start (SoftHSM2 rewriting its file, a network HSM still connecting) is retried with
   * backoff for `timeouts.startMs`. Resolves once the token serves, or rejects; with `tolerateUnavailable` a
   * refused PIN does not reject: the token stays unavailable with the reason, waiting for the operator (a
   * restart loop would try the PIN again and again and lock a real HSM's account).
   */
  async open(opts: { tolerateUnavailable?: boolean } = {}): Promise<void> {
    this.#status.set('opening');
    if (!this.#pinLogin.readPin()) throw new Error(`the PIN of token ${this.config.name} could not be read`);
    const r = this.config.recovery;
    this.#module = Pkcs11Module.acquire(
      this.config.module,
      {
        initializeMs: this.config.timeouts.initializeMs,
        drainMs: r.drainMs,
        initialDelayMs: r.initialDelayMs,
        maxDelayMs: r.maxDelayMs,
        maxRecoveries: r.maxRecoveries,
        windowMs: r.windowMs,
      },
      this.#log,
    );
    if (this.#onFatal) this.#module.onFatal = this.#onFatal;
    // The token's PKCS#11 thread: its own library instance; signatures run on the threadpool from it.
    this.#executor = new Pkcs11Executor(this.config.module);
    this.#lib = new RemoteLib(
      this.#executor,
      this.config.timeouts,
      callEvents(this.events, this.config.name),
      writeLockPath(this.config),
    );
    const startedAt = Date.now();
    let wait = r.initialDelayMs;
    try {
      await this.initializeInstance();
      this.#module.join(this);
      for (;;) {
        try {
          await this.#connect();
          break;
        } catch (e) {
          if (this.#status.state === 'closed') throw e;
          if (this.#pinLogin.refused !== undefined || classify(e) === 'pin') {
            if (opts.tolerateUnavailable) return;
            throw new Error(`login to token "${tokenDisplayName(this.config)}" failed: ${describeFault(e)}`);
          }
          if (Date.now() - startedAt >= this.config.timeouts.startMs) throw e;
          this.#log.warn({ err: describeFault(e), retryInMs: wait }, 'token not ready at start; retrying');
          await delay(wait);
          wait = Math.min(Math.max(wait * 2, 1), r.maxDelayMs);
          // A token created or rewritten after C_Initialize is only seen after a re-initialisation (facts §7).
          if (e instanceof TokenNotFound) await this.#module.recover(e);
          if (this.#status.state === 'ready') break;
        }
      }
      this.#index.startRefresh();
      this.#startKeepalive();
      // At start the probe's result is waited for (off the request path: nothing is served yet), so that the
      // first request already sees what the token can decrypt; after a re-initialisation it runs in the background.
      await this.#caps.probed();
    } catch (e) {
      this.#status.set('failed', describeFault(e));
      await this.#teardown();
      throw e;
    }
  }

  /**
   * For an HSM that drops idle sessions (`sessionIdleTimeoutMs`): touches the idle pooled sessions and the admin
   * session three times per period (src/token/keepalive.ts), off the request path, while the token serves.
   */
  #startKeepalive(): void {
    const idle = this.config.sessionIdleTimeoutMs;
    if (idle === undefined) return;
    this.#keepalive.start(idle, async () => {
      if (!this.isReady()) return;
      try {
        const { dropped } = await this.#sessions.keepAlive();
        if (dropped > 0) this.#log.warn({ dropped }, 'keepalive: idle sessions the token no longer knew were dropped');
      } catch (e) {
        this.#log.warn({ err: describeFault(e) }, 'keepalive: the admin session did not answer');
      }
    });
  }

  get #libOrFail(): RemoteLib {
    if (!this.#lib) throw new TokenFault('closed', 'the token is not open');
    return this.#lib;
  }

  /** Everything after C_Initialize: slot, admin session, login, pool, index; the probe follows in the background. */
  async #connect(): Promise<void> {
    const lib = this.#libOrFail;
    const executor = this.#executor;
    if (!this.#module || !executor) throw new TokenFault('closed', 'the token is not open');
    const slot = await findSlot(lib, this.config);
    this.#tokenInfo = await lib.call<pkcs11.TokenInfo>('C_GetTokenInfo', [slot]);
    const admin = await this.#sessions.openSession(slot);
    try {
      await this.#login(admin);
    } catch (e) {
      // Not ours to keep: a token that cannot log in holds no session (each reload would otherwise leak one).
      await lib.C_CloseSession(admin).catch(() => undefined);
      throw e;
    }
    this.#sessions.connect(slot, admin, this.config.sessions);
    await this.#index.read();
    this.#status.set('ready');
    const mechanisms = await lib.call<number[]>('C_GetMechanismList', [slot]);
    this.#caps.connected(executor, slot, mechanisms, await readKeySizes(lib, slot, mechanisms));
  }

  /** C_Login through the PIN-safe login; a refused PIN makes the token unavailable with the reason. */
  async #login(session: pkcs11.Handle): Promise<void> {
    try {
      await this.#pinLogin.login(this.#libOrFail, session);
    } catch (e) {
      const refused = this.#pinLogin.refused;
      if (refused !== undefined) this.#status.set('unavailable', `${refused}; fix the PIN and reload (SIGHUP)`);
      throw e;
    }
  }

  /** Waits for the capability probe (decryption and SM2 capabilities are known after it). */
  probed(): Promise<void> {
    return this.#caps.probed();
  }

  /**
   * Re-reads the PIN (SIGHUP): a token the PIN kept unavailable tries once more with a new value (a value refused
   * before is not tried: the gate). Other tokens keep their login; the new PIN is used at their next login.
   */
  async reload(): Promise<void> {
    if (this.state === 'closed' || this.state === 'failed') return;
    if (!this.#pinLogin.readPin()) return;
    // A reconnect running now may have taken the previous value to its login and end refused: judge after it.
    while (this.#reconnecting) await this.#reconnecting;
    // Unavailable and the value configured now not refused: a new PIN for a refused token (or a token between two
    // tries of its recovery ladder, which this try only brings forward).
    if (this.state !== 'unavailable' || this.#pinLogin.refused !== undefined) return;
    this.#log.info('reload: trying the token again with the PIN as configured now');
    await this.reconnect();
  }

  /** Re-reads the whole key index now (a full read in a PKCS#11 thread). */
  refreshIndex(): Promise<void> {
    return this.#index.refreshIndex();
  }
  /** Re-reads the objects of one identity (before a lifecycle change: another daemon may have changed it). */
  refreshIdentity(id: string): Promise<void> {
    return this.#index.refreshIdentity(id);
  }
  /** Re-reads an identity whose key pair this process has just generated, until the index holds it (or a 503). */
  refreshNewIdentity(id: string): Promise<void> {
    return this.#index.refreshNewIdentity(id);
  }
  /**
   * After this process changed an identity on the token: re-reads it (everything with `full`: a new chain, a KMS key
   * whose versions are key pairs of their own labels) and tells sibling processes what to re-read.
   */
  identityChanged(id: string, opts: { full?: boolean } = {}): Promise<void> {
    return this.#index.identityChanged(id, opts);
  }
  /** Another process changed the token (a sibling cluster worker): re-read that identity, or everything. */
  syncIndex(id?: string): void {
    this.#index.syncIndex(id);
  }
  /** Every entry on this token. */
  entries(): KeyEntry[] {
    return this.#index.entries();
  }
  /** The entry for an identifier, from memory (a miss asks for a background re-read, at most once a second). */
  lookup(id: string): KeyEntry | undefined {
    return this.#index.lookup(id);
  }
  /** A key pair that is not a certificate identity (a KMS key version), by its CKA_LABEL; from memory. */
  keyPair(label: string): KeyEntry | undefined {
    return this.#index.keyPair(label);
  }
  /** The KMS key records on this token as last read (src/identities/keys parses them); from memory. */
  kmsKeyRecords(): readonly DataRecord[] {
    return this.#index.kmsKeyRecords();
  }

  /** Which API algorithms an entry can serve on this token (key type, size or curve, mechanisms, CKA_SIGN). */
  supports(entry: KeyEntry, alg: SignatureAlgorithm): boolean {
    return this.#caps.supports(entry, alg);
  }
  /** Whether this token can generate key pairs of this spec (its mechanism is listed; SM2: its profile proved). */
  canGenerate(spec: KeySpecRow): boolean {
    return this.#caps.canGenerate(spec);
  }

  /** True when the token serves (from state: no token call). */
  isReady(): boolean {
    return this.#status.isReady();
  }

  /** Runs `fn` with a pooled session of its own (see TokenSessions.withSession). */
  withSession<T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> {
    return this.#sessions.withSession(fn);
  }

  /** Runs an admin call sequence on the admin session, one sequence at a time (see TokenSessions.admin). */
  admin<T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> {
    return this.#sessions.admin(fn);
  }

  /** Signs with the private key of `id`, in the token (see PrivateKeyOps.sign). */
  sign(id: string, alg: SignatureAlgorithm, subject: SignSubject, from: KeySource = 'identity'): Promise<Buffer> {
    return this.#ops.sign(id, alg, subject, from);
  }

  /** Decrypts with the private key of `id`, in the token (see PrivateKeyOps.decrypt). */
  decrypt(
    id: string,
    mechanism: pkcs11.Mechanism,
    ciphertext: Buffer,
    maxOutput?: number,
    from: KeySource = 'identity',
  ): Promise<Buffer> {
    return this.#ops.decrypt(id, mechanism, ciphertext, maxOutput, from);
  }

  /** Operations on pooled sessions and calls in the module now (a drain waits for both to reach zero). */
  #busy(): boolean {
    return this.#sessions.inflight > 0 || (this.#executor?.running ?? 0) > 0;
  }

  /** ModuleMember: stop lending; resolves when none of this token's calls runs in the module any more. */
  async suspend(): Promise<void> {
    if (this.state !== 'closed') this.#status.set('recovering', 'module re-initialisation');
    this.#sessions.drop();
    // A ref'd wait: the drain must finish even when nothing else keeps the process alive (a CLI command).
    while (this.#busy()) await delay(20);
  }

  /**
   * ModuleMember: after the module's C_Initialize (every session is gone): connect again. A refused PIN leaves the
   * token unavailable; a token not found is retried by another re-initialisation after a pause.
   */
  reconnect(): Promise<void> {
    const running = this.#reconnect().finally(() => {
      if (this.#reconnecting === running) this.#reconnecting = undefined;
    });
    this.#reconnecting = running;
    return running;
  }

  async #reconnect(): Promise<void> {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.#status.set('recovering', 'reconnecting');
    try {
      await this.#connect();
      this.#log.info({ keys: this.#index.size }, 'token serving again');
    } catch (e) {
      const refused = this.#pinLogin.refused;
      if (refused !== undefined) {
        // Refused now, or before and the value has not changed (then the gate refused it without a C_Login, or a
        // fault came first): either way the token waits for the operator, and says why (not "recovering").
        this.#status.set('unavailable', `${refused}; fix the PIN and reload (SIGHUP)`);
        return;
      }
      const why = describeFault(e);
      this.#status.set('unavailable', why);
      this.#log.error({ err: why }, 'token could not reconnect; retrying after a pause');
      // Not awaited, and only once the module is idle: the re-initialisation that called this waits for every
      // token's reconnect, and a recover() asked for before it ends joins it and is lost (the token then stayed
      // unavailable for good: seen when a re-initialisation found the token "not found" for a moment).
      void this.#retryReconnect(e);
    }
  }

  async #retryReconnect(cause: unknown): Promise<void> {
    await delay(this.config.recovery.maxDelayMs, undefined, { ref: false });
    await this.#module?.idle();
    if (this.state === 'unavailable' && this.#pinLogin.refused === undefined) void this.#module?.recover(cause);
  }

  /** The token's PKCS#11 calls (threads, deadlines), for admin tools and test instrumentation. */
  get lib(): RemoteLib {
    return this.#libOrFail;
  }

  /** Starts the module's coordinated re-initialisation (operators and tests; faults start it by themselves). */
  recoverModule(cause: unknown): Promise<void> {
    if (!this.#module) return Promise.reject(new TokenFault('closed', 'the token is not open'));
    return this.#module.recover(cause);
  }

  /** A module-wide call (slot list, token info) on the module's thread, for operator tools. */
  moduleCall(fn: string, args: unknown[]): Promise<unknown> {
    return this.#libOrFail.call(fn, args, this.config.timeouts.initializeMs);
  }

  /**
   * ModuleMember: C_Initialize of this token's library instance, with CKF_OS_LOCKING_OK and the configured
   * `moduleParameters`. Without the flag SoftHSM2 disables its mutexes and crashes as soon as two sessions work at
   * once (facts §0.1: 13/13 runs died).
   */
  async initializeInstance(): Promise<void> {
    try {
      const parameters = this.config.moduleParameters;
      const args: pkcs11.InitializationOptions = {
        flags: pkcs11.CKF_OS_LOCKING_OK,
        // pkcs11js passes them in NSS's extended CK_C_INITIALIZE_ARGS (pReserved), as NSS's softoken reads them.
        ...(parameters !== undefined ? { libraryParameters: parameters } : {}),
      };
      await this.#libOrFail.call('C_Initialize', [args], this.config.timeouts.initializeMs);
    } catch (e) {
      if (!isAlreadyInitialized(e)) throw e;
    }
  }

  /** ModuleMember: C_Finalize of this token's instance; the caller drained every call first (facts §0.3). */
  async finalizeInstance(): Promise<void> {
    try {
      await this.#libOrFail.call('C_Finalize', [], this.config.timeouts.initializeMs);
    } catch (e) {
      if (!isNotInitialized(e)) throw e;
    }
  }

  /** Graceful close: stop lending, wait for in-flight calls (up to the deadline), close sessions, release. */
  async close(deadlineMs = 10000): Promise<void> {
    if (this.state === 'closed') return;
    this.#status.set('closed');
    this.#index.stopRefresh();
    this.#keepalive.stop();
    this.#sessions.stopLending();
    const until = Date.now() + deadlineMs;
    // Ref'd: a CLI command's close must finish before the process may exit.
    while (this.#busy() && Date.now() < until) await delay(20);
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#sessions.drop();
    const m = this.#module;
    this.#module = undefined;
    if (m) {
      m.leave(this);
      // Only finalise when nothing of ours is still inside the module (facts §0.3: C_Finalize with calls in flight
      // crashes it), and only as the module's last token.
      if (m.release() && (this.#executor?.running ?? 0) === 0) await this.finalizeInstance().catch(() => undefined);
    }
    this.#executor?.close();
    this.#executor = undefined;
    this.#lib = undefined;
  }
}

/**
 * Where the processes of this host that write this token take turns (RemoteLib's write lock, decision 0032): one path
 * per module and token, the same in every process that opens it with the same configuration.
 */
function writeLockPath(config: TokenConfig): string {
  const which = `${config.module}\u0000${config.tokenLabel ?? ''}\u0000${config.tokenSerial ?? ''}`;
  return join(tmpdir(), `p11bridge-writes-${createHash('sha256').update(which).digest('hex').slice(0, 24)}`);
}
