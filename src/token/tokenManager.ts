import { setTimeout as delay } from 'node:timers/promises';
import * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import type { KeySpecRow, SignatureAlgorithm, Sm2Profile } from '../crypto/algorithms';
import { encodeSignature, planSignature, type SignSubject } from '../crypto/signPlan';
import { SM2_DEFAULT_USER_ID, sm2PublicPointOfSpki } from '../crypto/sm2';
import { ApiError } from '../errors/apiError';
import type { Logger } from '../observability/logger';
import {
  capabilitiesOf,
  NO_CAPABILITIES,
  type KeySizes,
  type ProbeResult,
  type TokenCapabilities,
} from './capabilities';
import { classify, describeFault, isAlreadyInitialized, isNotInitialized, toApiError } from './ckr';
import { isTokenFault, TokenFault } from './faults';
import { KeyDirectory, type DataRecord } from './keyDirectory';
import type { KeyEntry } from './keyIndex';
import { LocalLoginGate, type LoginGate } from './loginGate';
import { PinLogin } from './pinLogin';
import { Pkcs11Module, type ModuleMember } from './module';
import { RemoteLib } from './remoteLib';
import { Pool } from './sessionPool';
import { leftOperationActive } from './thread/pkcs11Thread';
import { Pkcs11Executor } from './thread/executor';

export type { TokenCapabilities } from './capabilities';

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

export interface TokenManagerOptions {
  /** Where C_Login asks whether a PIN value may be tried (the cluster primary's gate in cluster mode). */
  readonly loginGate?: LoginGate;
  /** The last rung of the ladder (the daemon exits non-zero); default: log it. */
  readonly onFatal?: (reason: string) => void;
}

/** Where `sign`/`decrypt` find the key: a certificate identity by identifier, or a key pair by CKA_LABEL. */
export type KeySource = 'identity' | 'keyPair';

const SESSION_FLAGS = pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION;
/** A lookup miss re-reads the index in the background at most this often. */
const MISS_REFRESH_MS = 1000;

/**
 * Owns one token: its threads, the admin (login) session, the session pool, the key directory, and the token's
 * rungs of the recovery ladder (docs/hsm/README.md): session fault → discard the session; stale handle → re-read
 * the index; lost login → log in again; refused PIN → unavailable until the operator acts; device fault → the
 * module's coordinated re-initialisation; a call past its deadline → unavailable until the token answers again.
 * Every PKCS#11 call runs in a PKCS#11 thread with a deadline (RemoteLib): the event loop never waits on the token.
 */
export class TokenManager implements ModuleMember {
  readonly config: TokenConfig;
  readonly #log: Logger;
  readonly #pinLogin: PinLogin;
  readonly #onFatal: ((reason: string) => void) | undefined;
  #module: Pkcs11Module | undefined;
  #executor: Pkcs11Executor | undefined;
  #lib: RemoteLib | undefined;
  #slot: pkcs11.Handle | undefined;
  #adminSession: pkcs11.Handle | undefined;
  #adminQueue: Promise<unknown> = Promise.resolve();
  #pool: Pool<pkcs11.Handle> | undefined;
  readonly #keys: KeyDirectory;
  #caps: TokenCapabilities = NO_CAPABILITIES;
  #probe: Promise<void> | undefined;
  #probeResult: ProbeResult | undefined;
  #keySizes: KeySizes | undefined;
  #state: TokenState = 'closed';
  #reason: string | undefined;
  #since = Date.now();
  /** Bumped at every state change: a background task that started in one state stops when it changed. */
  #stateGeneration = 0;
  #inflight = 0;
  #relogin: Promise<void> | undefined;
  #watching = false;
  #tokenInfo: pkcs11.TokenInfo | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  /** Told after this process changed the token's objects: cluster workers pass it on to their siblings. */
  onIndexChanged: ((id?: string) => void) | undefined;

  constructor(config: TokenConfig, log: Logger, opts: TokenManagerOptions = {}) {
    this.config = config;
    this.#log = log.child({ warehouseId: config.warehouseId, token: config.name });
    this.#pinLogin = new PinLogin(config.name, config.pin, opts.loginGate ?? new LocalLoginGate(), this.#log);
    this.#onFatal = opts.onFatal;
    this.#keys = new KeyDirectory(
      this.#log,
      (label) => this.admin((session, lib) => lib.readObjects(session, label)),
      () => ({
        refuseInsecure: config.insecureKeys === 'refuse',
        ...(config.sm2 ? { sm2: config.sm2 } : {}),
        insecurePolicy: config.insecureKeys,
      }),
    );
  }

  get name(): string {
    return this.config.name;
  }
  get state(): TokenState {
    return this.#state;
  }
  get health(): TokenHealth {
    return { state: this.#state, reason: this.#reason, since: this.#since };
  }
  get warehouseId(): number {
    return this.config.warehouseId;
  }
  get capabilities(): TokenCapabilities {
    return this.#caps;
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
  get poolStats(): { inUse: number; waiting: number; live: number; quarantined: number } {
    const p = this.#pool;
    return p
      ? { inUse: p.inUse, waiting: p.waiting, live: p.live, quarantined: p.quarantined }
      : { inUse: 0, waiting: 0, live: 0, quarantined: 0 };
  }

  #setState(state: TokenState, reason?: string): void {
    if (this.#state === state && this.#reason === reason) return;
    this.#stateGeneration++;
    this.#state = state;
    this.#reason = reason;
    this.#since = Date.now();
  }

  #deadlines(): { operationMs: number; keyGenerationMs: number } {
    return this.config.timeouts;
  }

  /**
   * Opens the token: module, threads, slot, login, index, then (in the background) the capability probe.
   * A token not found at start (SoftHSM2 rewriting its file, a network HSM still connecting) is retried with
   * backoff for `timeouts.startMs`. Resolves once the token serves, or rejects; with `tolerateUnavailable` a
   * refused PIN does not reject: the token stays unavailable with the reason, waiting for the operator (a
   * restart loop would try the PIN again and again and lock a real HSM's account).
   */
  async open(opts: { tolerateUnavailable?: boolean } = {}): Promise<void> {
    this.#setState('opening');
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
    this.#lib = new RemoteLib(this.#executor, this.#deadlines());
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
          if (this.#state === 'closed') throw e;
          if (this.#pinLogin.refused !== undefined || classify(e) === 'pin') {
            if (opts.tolerateUnavailable) return;
            throw new Error(`login to token "${this.#tokenName()}" failed: ${describeFault(e)}`);
          }
          if (Date.now() - startedAt >= this.config.timeouts.startMs) throw e;
          this.#log.warn({ err: describeFault(e), retryInMs: wait }, 'token not ready at start; retrying');
          await delay(wait);
          wait = Math.min(Math.max(wait * 2, 1), r.maxDelayMs);
          // A token created or rewritten after C_Initialize is only seen after a re-initialisation (facts §7).
          if (isNotFound(e)) await this.#module.recover(e);
          if (this.#state === 'ready') break;
        }
      }
      this.#startRefresh();
      // At start the probe's result is waited for (off the request path: nothing is served yet), so that the
      // first request already sees what the token can decrypt; after a re-initialisation it runs in the background.
      await this.#probe;
    } catch (e) {
      this.#setState('failed', describeFault(e));
      await this.#teardown();
      throw e;
    }
  }

  #tokenName(): string {
    return this.config.tokenLabel ?? `serial ${this.config.tokenSerial ?? '?'}`;
  }

  get #libOrFail(): RemoteLib {
    if (!this.#lib) throw new TokenFault('closed', 'the token is not open');
    return this.#lib;
  }

  /** Everything after C_Initialize: slot, admin session, login, pool, index; the probe follows in the background. */
  async #connect(): Promise<void> {
    const m = this.#module;
    const lib = this.#libOrFail;
    if (!m) throw new TokenFault('closed', 'the token is not open');
    this.#slot = await this.#findSlot(lib);
    this.#tokenInfo = await lib.call<pkcs11.TokenInfo>('C_GetTokenInfo', [this.#slot]);
    const admin = await lib.C_OpenSession(this.#slot, SESSION_FLAGS);
    try {
      await this.#login(admin);
    } catch (e) {
      // Not ours to keep: a token that cannot log in holds no session (each reload would otherwise leak one).
      await lib.C_CloseSession(admin).catch(() => undefined);
      throw e;
    }
    this.#adminSession = admin;
    const slot = this.#slot;
    this.#pool = new Pool<pkcs11.Handle>(
      {
        create: () => lib.C_OpenSession(slot, SESSION_FLAGS),
        destroy: (s) => lib.C_CloseSession(s),
      },
      this.config.sessions,
    );
    await this.#keys.refresh();
    this.#setState('ready');
    const mechanisms = await lib.call<number[]>('C_GetMechanismList', [slot]);
    this.#keySizes ??= await this.#readKeySizes(lib, slot, mechanisms);
    // The functional probes run once, when the token is first opened (before it serves). After a re-initialisation
    // the token is the same one: their result stands, and the token's thread is not held up by throwaway key
    // generation while requests wait behind it.
    this.#caps = capabilitiesOf(mechanisms, this.#probeResult, this.#keySizes);
    this.#probe ??= this.#runProbe(slot, mechanisms);
  }

  /** The key sizes of the listed key pair generation mechanisms (a mechanism whose info cannot be read: unlimited). */
  async #readKeySizes(lib: RemoteLib, slot: pkcs11.Handle, mechanisms: readonly number[]): Promise<KeySizes> {
    const out = new Map<number, { min: number; max: number }>();
    for (const m of [pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKM_EC_KEY_PAIR_GEN]) {
      if (!mechanisms.includes(m)) continue;
      try {
        const info = await lib.call<pkcs11.MechanismInfo>('C_GetMechanismInfo', [slot, m]);
        out.set(m, { min: info.minKeySize, max: info.maxKeySize });
      } catch {
        // Some modules answer CKR_MECHANISM_INVALID for a listed mechanism's info: its sizes stay unknown.
      }
    }
    return out;
  }

  /**
   * The decryption and SM2 probes generate throwaway session keys (RSA-2048, never the RSA-1024 a FIPS-mode HSM
   * refuses): seconds on some HSMs. They run in the token's PKCS#11 thread while the token opens, never on the event
   * loop, and not again after a re-initialisation.
   */
  async #runProbe(slot: pkcs11.Handle, mechanisms: number[]): Promise<void> {
    const executor = this.#executor;
    if (!executor) return;
    const profile = this.config.sm2;
    try {
      const result = (await executor.run(
        { op: 'probe', slot, mechanisms, ...(profile ? { sm2: profile } : {}) },
        this.config.timeouts.keyGenerationMs,
      )) as ProbeResult;
      for (const problem of result.sm2?.problems ?? []) {
        this.#log.warn({ vendor: profile?.vendor, problem }, 'SM2 HSM profile: a role does not work on this token');
      }
      this.#probeResult = result;
      this.#caps = capabilitiesOf(mechanisms, result, this.#keySizes);
    } catch (e) {
      this.#log.warn({ err: describeFault(e) }, 'capability probe failed: decryption and SM2 are not offered');
    }
  }

  /** Waits for the capability probe (decryption and SM2 capabilities are known after it). */
  async probed(): Promise<void> {
    await this.#probe;
  }

  async #findSlot(lib: RemoteLib): Promise<pkcs11.Handle> {
    const slots = await lib.call<pkcs11.Handle[]>('C_GetSlotList', [true]);
    for (const slot of slots) {
      let info: pkcs11.TokenInfo;
      try {
        info = await lib.call<pkcs11.TokenInfo>('C_GetTokenInfo', [slot]);
      } catch {
        // A deleted SoftHSM2 token answers CKR_GENERAL_ERROR here (facts §7): skip it, keep scanning.
        continue;
      }
      if (this.config.tokenSerial !== undefined && info.serialNumber.trim() !== this.config.tokenSerial) continue;
      if (this.config.tokenLabel !== undefined && info.label.trim() !== this.config.tokenLabel) continue;
      return slot;
    }
    throw new TokenNotFound(`token "${this.#tokenName()}" not found in module ${this.config.module}`);
  }

  /** C_Login through the PIN-safe login; a refused PIN makes the token unavailable with the reason. */
  async #login(session: pkcs11.Handle): Promise<void> {
    try {
      await this.#pinLogin.login(this.#libOrFail, session);
    } catch (e) {
      const refused = this.#pinLogin.refused;
      if (refused !== undefined) this.#setState('unavailable', `${refused}; fix the PIN and reload (SIGHUP)`);
      throw e;
    }
  }

  /**
   * Re-reads the PIN (SIGHUP): a token the PIN kept unavailable tries once more with a new value. Other tokens
   * keep their login; the new PIN is used at their next login.
   */
  async reload(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'failed') return;
    if (!this.#pinLogin.readPin()) return;
    if (this.#state !== 'unavailable' || this.#pinLogin.refused === undefined) return;
    this.#log.info('reload: trying the token again with the PIN as configured now');
    await this.reconnect();
  }

  /** Re-reads the whole key index now (a full read in a PKCS#11 thread). */
  async refreshIndex(): Promise<void> {
    this.#assertServing();
    await this.#keys.refresh();
  }

  /** Re-reads the objects of one identity (before a lifecycle change: another daemon may have changed it). */
  async refreshIdentity(id: string): Promise<void> {
    this.#assertServing();
    await this.#keys.refreshIdentity(id);
  }

  /**
   * After this process changed an identity on the token: re-reads it (everything with `full`: a new chain, a KMS key
   * whose versions are key pairs of their own labels) and tells sibling processes what to re-read.
   */
  async identityChanged(id: string, opts: { full?: boolean } = {}): Promise<void> {
    this.#assertServing();
    await (opts.full ? this.#keys.refresh() : this.#keys.refreshIdentity(id));
    this.onIndexChanged?.(opts.full ? undefined : id);
  }

  /** Another process changed the token (a sibling cluster worker): re-read that identity, or everything. */
  syncIndex(id?: string): void {
    if (this.#state !== 'ready') return;
    this.#keys.refreshSoon(id);
  }

  /** Re-reads the index every `indexRefreshMs` while ready (another daemon may change lifecycle state). */
  #startRefresh(): void {
    const every = this.config.indexRefreshMs;
    if (every <= 0 || this.#refreshTimer) return;
    this.#refreshTimer = setInterval(() => {
      if (this.#state === 'ready' && this.#keys.age() >= every / 2) this.#keys.refreshSoon();
    }, every);
    this.#refreshTimer.unref();
  }

  /** Every entry on this token. */
  entries(): KeyEntry[] {
    return this.#keys.entries();
  }

  /**
   * The entry for an identifier, from memory. An unknown identifier schedules a background re-read at most once a
   * second (a certificate created by another daemon is found shortly after), never a read on the request path.
   */
  lookup(id: string): KeyEntry | undefined {
    const hit = this.#keys.get(id);
    if (!hit && this.#state === 'ready' && this.#keys.age() >= MISS_REFRESH_MS) this.#keys.refreshSoon();
    return hit;
  }

  /** A key pair that is not a certificate identity (a KMS key version), by its CKA_LABEL; from memory. */
  keyPair(label: string): KeyEntry | undefined {
    return this.#keys.keyPair(label);
  }

  /** The KMS key records on this token as last read (src/identities/keys parses them); from memory. */
  kmsKeyRecords(): readonly DataRecord[] {
    return this.#keys.kmsKeys();
  }

  /** Which API algorithms an entry can serve on this token (key type, size or curve, mechanisms, CKA_SIGN). */
  supports(entry: KeyEntry, alg: SignatureAlgorithm): boolean {
    return (
      entry.canSign &&
      alg.keyType === entry.keyType &&
      entry.keySpec !== undefined &&
      alg.keySpecs.includes(entry.keySpec) &&
      this.#caps.signatureAlgorithms.includes(alg.id)
    );
  }

  /** Whether this token can generate key pairs of this spec (its mechanism is listed; SM2: its profile proved). */
  canGenerate(spec: KeySpecRow): boolean {
    return this.#caps.keySpecs.includes(spec.spec);
  }

  /** True when the token serves (from state: no token call). */
  isReady(): boolean {
    return this.#state === 'ready';
  }

  #assertServing(): void {
    if (this.#state === 'ready') return;
    throw new TokenFault(
      this.#state === 'closed' ? 'closed' : 'unavailable',
      `token ${this.config.name} is ${this.#state}${this.#reason ? `: ${this.#reason}` : ''}`,
    );
  }

  /**
   * Runs `fn` with a pooled session of its own and the token's calls. The session goes back to the pool, or is
   * discarded when the error says it is broken or left mid-operation, or is quarantined until a call that passed
   * its deadline returns. Errors are the token layer's (PKCS#11 errors, TokenFaults); `sign`/`decrypt` translate.
   */
  async withSession<T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> {
    this.#assertServing();
    const pool = this.#pool;
    const lib = this.#libOrFail;
    if (!pool) throw new TokenFault('unavailable', 'no session pool');
    const session = await pool.acquire();
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
   * Signs with the private key of `id`. The token does the private-key operation (C_SignInit + C_Sign in one
   * PKCS#11 thread call); the input is prepared by the algorithm table.
   */
  sign(id: string, alg: SignatureAlgorithm, subject: SignSubject, from: KeySource = 'identity'): Promise<Buffer> {
    return this.#privateKeyOp(id, from, async (entry) => {
      const profile = this.config.sm2;
      // SM2: e depends on the signer's public key (Z_A), so the plan needs it.
      const sm2 =
        alg.vendorProfile === 'sm2' && profile ? { profile, publicPoint: sm2PublicPointOfSpki(entry.spki) } : undefined;
      const plan = planSignature(alg, subject, this.#caps.mechanisms, sm2);
      const raw = await this.withSession((session, lib) =>
        lib.sign(session, plan.mechanism, entry.privateKey, plan.data, entry.signatureLength),
      );
      return encodeSignature(alg, raw, profile?.signatureFormat);
    });
  }

  /**
   * Decrypts with the private key of `id`, in the token (RSA OAEP or SM2 as the algorithm table specifies). The
   * plaintext is at most `maxOutput` bytes: the modulus length for RSA (the default), less than the ciphertext for SM2.
   */
  decrypt(
    id: string,
    mechanism: pkcs11.Mechanism,
    ciphertext: Buffer,
    maxOutput?: number,
    from: KeySource = 'identity',
  ): Promise<Buffer> {
    return this.#privateKeyOp(id, from, (entry) =>
      this.withSession((session, lib) =>
        lib.decrypt(session, mechanism, entry.privateKey, ciphertext, maxOutput ?? entry.signatureLength),
      ),
    );
  }

  /**
   * A private-key operation with the token's rungs of the ladder: a stale handle re-reads the index and a lost
   * login logs in again (each then retried once); a device fault starts the module's re-initialisation; a call past
   * its deadline makes the token unavailable until it answers. The caller gets the cloud's error at once.
   */
  async #privateKeyOp<T>(id: string, from: KeySource, op: (entry: KeyEntry) => Promise<T>): Promise<T> {
    const attempt = (): Promise<T> => {
      this.#assertServing();
      const entry = from === 'keyPair' ? this.#keys.keyPair(id) : this.#keys.get(id);
      if (!entry) throw new ApiError('Certificate.NotFound');
      return op(entry);
    };
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      const retry = await this.#onFault(e);
      if (!retry) throw toApiError(e);
      try {
        return await attempt();
      } catch (e2) {
        if (!(e2 instanceof ApiError)) await this.#onFault(e2, false);
        throw toApiError(e2);
      }
    }
  }

  /** Answers a fault with its rung of the ladder; true when the operation may be retried once. */
  async #onFault(e: unknown, mayRetry = true): Promise<boolean> {
    if (isTokenFault(e, 'timeout')) {
      this.#onHang(e);
      return false;
    }
    if (isTokenFault(e)) return false;
    const fault = classify(e);
    switch (fault) {
      case 'stale': {
        this.#log.warn({ ckr: describeFault(e) }, 'stale object handle: re-reading the key index');
        // A full index read may take far longer than one operation (a token being rewritten, thousands of objects):
        // the request waits for it at most its own deadline, then is refused; the read goes on in the background.
        const read = this.#keys.refresh().then(
          () => true,
          () => false,
        );
        const inTime = await Promise.race([read, delay(this.config.timeouts.operationMs, false, { ref: false })]);
        return mayRetry && inTime;
      }
      case 'login':
        this.#log.warn('the token forgot our login: logging in again');
        await this.#reloginOnce().catch(() => undefined);
        return mayRetry && this.#state === 'ready';
      case 'device':
        this.#log.warn({ ckr: describeFault(e) }, 'device fault: re-initialising the module');
        void this.#module?.recover(e);
        return false;
      case 'capacity':
        this.#log.warn({ ckr: describeFault(e) }, 'the token is out of sessions or memory; request refused');
        return false;
      default:
        return false;
    }
  }

  /** Single-flight re-login on the admin session (PIN-safe). */
  #reloginOnce(): Promise<void> {
    this.#relogin ??= (async () => {
      const session = this.#adminSession;
      if (!session) return;
      try {
        await this.#login(session);
      } catch (e) {
        if (this.#pinLogin.refused === undefined) {
          this.#log.warn({ err: describeFault(e) }, 're-login failed');
          if (classify(e) === 'session' || classify(e) === 'device') void this.#module?.recover(e);
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
    if (this.#state !== 'ready') return;
    const ms = this.config.timeouts.operationMs;
    this.#setState('unavailable', `a call to the token did not answer within ${ms} ms`);
    this.#log.error({ err: e.message }, 'token call passed its deadline: token unavailable until it answers');
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
    const executor = this.#executor;
    const generation = this.#stateGeneration;
    const current = (): boolean => this.#stateGeneration === generation && this.#state === 'unavailable';
    while (executor && current()) {
      await delay(200, undefined, { ref: false });
      if (!current()) return;
      const stuck = executor.stuck;
      if (stuck.count > 0) {
        if (stuck.since !== undefined && Date.now() - stuck.since > this.config.recovery.stuckExitMs) {
          this.#module?.onFatal(
            `a call into token ${this.config.name} has not returned for ${Date.now() - stuck.since} ms`,
          );
          return;
        }
        continue;
      }
      const session = this.#adminSession;
      if (!session) return;
      try {
        await this.#libOrFail.C_GetSessionInfo(session);
        if (!current()) return;
        this.#setState('ready');
        this.#log.info('token answers again');
        return;
      } catch (err) {
        if (!current()) return;
        if (isTokenFault(err, 'timeout')) continue;
        const fault = classify(err);
        if (fault === 'device' || fault === 'session') {
          void this.#module?.recover(err);
          return;
        }
      }
    }
  }

  /** ModuleMember: stop lending; resolves when none of this token's calls runs in the module any more. */
  async suspend(): Promise<void> {
    if (this.#state !== 'closed') this.#setState('recovering', 'module re-initialisation');
    this.#pool?.close();
    this.#pool = undefined;
    this.#adminSession = undefined;
    // A ref'd wait: the drain must finish even when nothing else keeps the process alive (a CLI command).
    while (this.#inflight > 0 || (this.#executor?.running ?? 0) > 0) await delay(20);
  }

  /**
   * ModuleMember: after the module's C_Initialize (every session is gone): connect again. A refused PIN leaves the
   * token unavailable; a token not found is retried by another re-initialisation after a pause.
   */
  async reconnect(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'failed') return;
    this.#setState('recovering', 'reconnecting');
    try {
      await this.#connect();
      this.#log.info({ keys: this.#keys.size }, 'token serving again');
    } catch (e) {
      if (this.#pinLogin.refused !== undefined) return;
      const why = describeFault(e);
      this.#setState('unavailable', why);
      this.#log.error({ err: why }, 'token could not reconnect; retrying after a pause');
      await delay(this.config.recovery.maxDelayMs, undefined, { ref: false });
      if (this.#state === 'unavailable' && this.#pinLogin.refused === undefined) void this.#module?.recover(e);
    }
  }

  /**
   * Runs an admin call sequence on the admin session, one sequence at a time (a C_FindObjects sequence must not
   * interleave with another on the same session). Lifecycle writes, index reads and the health check use it.
   */
  admin<T>(fn: (session: pkcs11.Handle, lib: RemoteLib) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const session = this.#adminSession;
      if (!session || (this.#state !== 'ready' && this.#state !== 'recovering' && this.#state !== 'opening')) {
        this.#assertServing();
      }
      return fn(session as pkcs11.Handle, this.#libOrFail);
    };
    const next = this.#adminQueue.then(run, run);
    this.#adminQueue = next.catch(() => undefined);
    return next;
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
    if (this.#state === 'closed') return;
    this.#setState('closed');
    clearInterval(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#pool?.close();
    const until = Date.now() + deadlineMs;
    while ((this.#inflight > 0 || (this.#executor?.running ?? 0) > 0) && Date.now() < until) {
      // Ref'd: a CLI command's close must finish before the process may exit.
      await delay(20);
    }
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#pool?.close();
    this.#pool = undefined;
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
    this.#adminSession = undefined;
  }
}

/** The configured token is not among the module's slots. */
class TokenNotFound extends Error {}

function isNotFound(e: unknown): boolean {
  return e instanceof TokenNotFound;
}
