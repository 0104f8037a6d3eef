import { setTimeout as delay } from 'node:timers/promises';
import * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import { resolveSecret, type Secret } from '../config/secret';
import {
  KEY_SPECS,
  SIGNATURE_ALGORITHMS,
  type EncryptionAlgorithm,
  type KeySpec,
  type KeySpecRow,
  type SignatureAlgorithm,
  type Sm2Profile,
} from '../crypto/algorithms';
import { encodeSignature, planSignature, tokenSupports, type SignSubject } from '../crypto/signPlan';
import { SM2_DEFAULT_USER_ID, sm2PublicPointOfSpki } from '../crypto/sm2';
import { ApiError } from '../errors/apiError';
import type { Logger } from '../observability/logger';
import { ckrName, ckrOf, classify, isAlreadyLoggedIn, toApiError } from './ckr';
import { buildIndex, type KeyEntry } from './keyIndex';
import { Pkcs11Module } from './module';
import { probeDecryption } from './probe';
import { Pool } from './sessionPool';
import { probeSm2 } from './sm2Probe';

export type TokenState = 'closed' | 'opening' | 'ready' | 'recovering' | 'failed';

/** What the capability probe found on this token. */
export interface TokenCapabilities {
  /** Every mechanism the token lists. */
  readonly mechanisms: ReadonlySet<number>;
  /** API signature algorithms (table ids) the token can serve for some key type. */
  readonly signatureAlgorithms: readonly SignatureAlgorithm['id'][];
  /** Decryption algorithms a functional probe proved (a listed mechanism may still refuse parameters). */
  readonly decryptionAlgorithms: readonly EncryptionAlgorithm['name'][];
  /** Key specs the token can generate (KMS CreateCertificate); SM2 only when its HSM profile proved itself. */
  readonly keySpecs: readonly KeySpec[];
}

/**
 * Owns one token: its module reference, the login session, the session pool, the key index and recovery.
 * Private-key operations borrow a session (`withSession`) and always give it back or discard it.
 */
export class TokenManager {
  readonly config: TokenConfig;
  readonly #log: Logger;
  #module: Pkcs11Module | undefined;
  #slot: pkcs11.Handle | undefined;
  #loginSession: pkcs11.Handle | undefined;
  #pool: Pool<pkcs11.Handle> | undefined;
  #entries = new Map<string, KeyEntry>();
  #caps: TokenCapabilities = { mechanisms: new Set(), signatureAlgorithms: [], decryptionAlgorithms: [], keySpecs: [] };
  #state: TokenState = 'closed';
  #inflight = 0;
  #drainWaiters: Array<() => void> = [];
  #recovery: Promise<void> | undefined;
  #pin: Secret | undefined;
  #tokenInfo: pkcs11.TokenInfo | undefined;
  #lastRefresh = 0;
  #refreshTimer: NodeJS.Timeout | undefined;

  constructor(config: TokenConfig, log: Logger) {
    this.config = config;
    this.#log = log.child({ warehouseId: config.warehouseId, token: config.name });
  }

  get state(): TokenState {
    return this.#state;
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
  /** The underlying pkcs11js instance, for admin code that needs a raw call inside `withSession`. */
  get lib(): pkcs11.PKCS11 {
    if (!this.#module) throw new ApiError('ServiceUnavailable');
    return this.#module.lib;
  }
  /** Sessions lent out and waiting borrowers (for metrics and tests). */
  get poolStats(): { inUse: number; waiting: number; live: number } {
    const p = this.#pool;
    return p ? { inUse: p.inUse, waiting: p.waiting, live: p.live } : { inUse: 0, waiting: 0, live: 0 };
  }

  /** Loads the module, finds the token, logs in, indexes keys and probes capabilities. */
  async open(): Promise<void> {
    this.#state = 'opening';
    try {
      this.#pin = resolveSecret(this.config.pin);
      this.#module = Pkcs11Module.acquire(this.config.module);
      this.#connect();
      this.#state = 'ready';
      this.#startRefresh();
    } catch (e) {
      this.#state = 'failed';
      this.#disconnect();
      if (this.#module) {
        this.#module.release();
        this.#module = undefined;
      }
      throw e;
    }
  }

  /** Everything after C_Initialize: slot, login session, login, pool, index, probe. Synchronous on purpose. */
  #connect(): void {
    const lib = this.lib;
    this.#slot = this.#findSlot(lib);
    this.#tokenInfo = lib.C_GetTokenInfo(this.#slot);
    this.#loginSession = lib.C_OpenSession(this.#slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    try {
      // The PIN goes to C_Login and nowhere else; CKR_USER_ALREADY_LOGGED_IN is success (login is per application).
      lib.C_Login(this.#loginSession, pkcs11.CKU_USER, this.#pin?.reveal());
    } catch (e) {
      if (!isAlreadyLoggedIn(e)) {
        const code = ckrOf(e);
        throw new Error(
          `login to token "${this.#tokenName()}" failed: ${code === undefined ? 'error' : ckrName(code)}`,
        );
      }
    }
    const slot = this.#slot;
    this.#pool = new Pool<pkcs11.Handle>(
      {
        create: () => lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION),
        destroy: (s) => lib.C_CloseSession(s),
      },
      this.config.sessions,
    );
    const mechanisms = new Set(lib.C_GetMechanismList(this.#slot));
    const profile = this.config.sm2;
    const sm2 = profile ? probeSm2(lib, this.#slot, mechanisms, profile) : undefined;
    for (const problem of sm2?.problems ?? []) {
      this.#log.warn({ vendor: profile?.vendor, problem }, 'SM2 HSM profile: a role does not work on this token');
    }
    this.#caps = {
      mechanisms,
      signatureAlgorithms: [
        ...SIGNATURE_ALGORITHMS.filter((a) => !a.vendorProfile && tokenSupports(a, mechanisms)).map((a) => a.id),
        ...(sm2?.signatureAlgorithms ?? []),
      ],
      decryptionAlgorithms: [...probeDecryption(lib, this.#slot, mechanisms), ...(sm2?.decryptionAlgorithms ?? [])],
      keySpecs: [
        ...KEY_SPECS.filter((k) => k.generate && mechanisms.has(k.generate.mechanism)).map((k) => k.spec),
        ...(sm2?.keySpecs ?? []),
      ],
    };
    this.#reindex();
  }

  #tokenName(): string {
    return this.config.tokenLabel ?? `serial ${this.config.tokenSerial ?? '?'}`;
  }

  #findSlot(lib: pkcs11.PKCS11): pkcs11.Handle {
    for (const slot of lib.C_GetSlotList(true)) {
      let info: pkcs11.TokenInfo;
      try {
        info = lib.C_GetTokenInfo(slot);
      } catch {
        // A deleted SoftHSM2 token answers CKR_GENERAL_ERROR here (facts §7): skip it, keep scanning.
        continue;
      }
      if (this.config.tokenSerial !== undefined && info.serialNumber.trim() !== this.config.tokenSerial) continue;
      if (this.config.tokenLabel !== undefined && info.label.trim() !== this.config.tokenLabel) continue;
      return slot;
    }
    throw new Error(`token "${this.#tokenName()}" not found in module ${this.config.module}`);
  }

  /** Rebuilds the key index from the token (synchronous PKCS#11 calls: not for the request path). */
  #reindex(): void {
    const lib = this.lib;
    if (!this.#loginSession) throw new ApiError('ServiceUnavailable');
    const result = buildIndex(lib, this.#loginSession, {
      refuseInsecure: this.config.insecureKeys === 'refuse',
      ...(this.config.sm2 ? { sm2: this.config.sm2 } : {}),
    });
    for (const k of result.insecure) {
      this.#log.warn(
        { key: k.label, sensitive: k.sensitive, extractable: k.extractable, policy: this.config.insecureKeys },
        this.config.insecureKeys === 'refuse'
          ? 'refusing a private key that is extractable or not sensitive: private keys never leave hardware'
          : 'serving a private key that is extractable or not sensitive (insecureKeys: warn)',
      );
    }
    for (const s of result.skipped) this.#log.warn({ reason: s }, 'token object skipped');
    this.#entries = result.entries;
    this.#lastRefresh = Date.now();
  }

  /**
   * Re-reads the index every `indexRefreshMs` while ready: lifecycle state lives on the token, and another daemon
   * in front of it may change it. Synchronous PKCS#11 reads of a few objects: milliseconds, off the request path.
   */
  #startRefresh(): void {
    const every = this.config.indexRefreshMs;
    if (every <= 0 || this.#refreshTimer) return;
    this.#refreshTimer = setInterval(() => {
      if (this.#state !== 'ready' || Date.now() - this.#lastRefresh < every / 2) return;
      try {
        this.#reindex();
      } catch (e) {
        this.#log.warn({ err: describe(e) }, 'periodic index refresh failed');
      }
    }, every);
    this.#refreshTimer.unref();
  }

  /**
   * Told after this process changed the token's objects (a lifecycle operation): in cluster mode the worker
   * passes it on so the other workers re-read their index at once instead of within `indexRefreshMs`.
   */
  onIndexChanged: (() => void) | undefined;

  /** Re-reads the key index now (after an admin change made through this process). */
  refreshIndex(): void {
    if (this.#state !== 'ready') throw new ApiError('ServiceUnavailable');
    this.#reindex();
    this.onIndexChanged?.();
  }

  /** Re-reads the key index because another process changed the token (a sibling cluster worker). */
  syncIndex(): void {
    if (this.#state !== 'ready') return;
    try {
      this.#reindex();
    } catch (e) {
      this.#log.warn({ err: describe(e) }, 'index refresh failed');
    }
  }

  /** Every entry on this token. */
  entries(): KeyEntry[] {
    return [...this.#entries.values()];
  }

  /**
   * The entry for an identifier. An unknown identifier re-reads the index at most once a second, so that a
   * certificate created by another daemon or the CLI on the same token is found without a restart.
   */
  lookup(id: string): KeyEntry | undefined {
    const hit = this.#entries.get(id);
    if (hit || this.#state !== 'ready') return hit;
    if (Date.now() - this.#lastRefresh < 1000) return undefined;
    try {
      this.#reindex();
    } catch (e) {
      this.#log.warn({ err: describe(e) }, 'index refresh failed');
    }
    return this.#entries.get(id);
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

  /** True when the token is logged in and a session answers (for /readyz). */
  isReady(): boolean {
    if (this.#state !== 'ready' || !this.#loginSession) return false;
    try {
      this.lib.C_GetSessionInfo(this.#loginSession);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs `fn` with a session of its own. The session goes back to the pool, or is discarded when the
   * PKCS#11 error says it is broken; device and stale-handle errors start a recovery.
   */
  async withSession<T>(fn: (session: pkcs11.Handle, lib: pkcs11.PKCS11) => Promise<T>): Promise<T> {
    const pool = this.#pool;
    if (this.#state !== 'ready' || !pool)
      throw new ApiError('ServiceUnavailable', 'The token is recovering; retry shortly.');
    const session = await pool.acquire();
    this.#inflight++;
    let fault: ReturnType<typeof classify> | undefined;
    try {
      return await fn(session, this.lib);
    } catch (e) {
      if (ckrOf(e) !== undefined) fault = classify(e);
      throw e;
    } finally {
      this.#inflight--;
      if (fault === 'session' || fault === 'device' || fault === 'stale' || fault === 'internal') pool.discard(session);
      else pool.release(session);
      if (this.#inflight === 0) for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  /**
   * Signs with the private key of `id`. The token does the private-key operation; the input is prepared by
   * the algorithm table. A stale handle or device error triggers one recovery and one retry.
   */
  sign(id: string, alg: SignatureAlgorithm, subject: SignSubject): Promise<Buffer> {
    return this.#withRecovery(id, async (entry) => {
      const profile = this.config.sm2;
      // SM2: e depends on the signer's public key (Z_A), so the plan needs it.
      const sm2 =
        alg.vendorProfile === 'sm2' && profile ? { profile, publicPoint: sm2PublicPointOfSpki(entry.spki) } : undefined;
      const plan = planSignature(alg, subject, this.#caps.mechanisms, sm2);
      const raw = await this.withSession(async (session, lib) => {
        lib.C_SignInit(session, plan.mechanism, entry.privateKey);
        // A fresh output buffer per call: the native worker keeps raw pointers until the promise settles.
        return lib.C_SignAsync(session, plan.data, Buffer.alloc(entry.signatureLength));
      });
      return encodeSignature(alg, raw, profile?.signatureFormat);
    });
  }

  /**
   * Decrypts with the private key of `id`, in the token (RSA OAEP or SM2 as the algorithm table specifies). The
   * plaintext is at most `maxOutput` bytes: the modulus length for RSA (the default), less than the ciphertext for SM2.
   */
  decrypt(id: string, mechanism: pkcs11.Mechanism, ciphertext: Buffer, maxOutput?: number): Promise<Buffer> {
    return this.#withRecovery(id, (entry) =>
      this.withSession(async (session, lib) => {
        lib.C_DecryptInit(session, mechanism, entry.privateKey);
        return lib.C_DecryptAsync(session, ciphertext, Buffer.alloc(maxOutput ?? entry.signatureLength));
      }),
    );
  }

  /** Runs a private-key operation; on a stale handle or device fault, recovers once and retries once. */
  async #withRecovery<T>(id: string, op: (entry: KeyEntry) => Promise<T>): Promise<T> {
    const attempt = (): Promise<T> => {
      const entry = this.#entries.get(id);
      if (!entry) throw new ApiError('Certificate.NotFound');
      return op(entry);
    };
    try {
      return await attempt();
    } catch (e) {
      const fault = classify(e);
      if (fault !== 'stale' && fault !== 'device') throw toApiError(e);
      this.#log.warn({ ckr: ckrName(ckrOf(e) ?? 0), id }, 'token fault: recovering');
      await this.recover(e);
      try {
        return await attempt();
      } catch (e2) {
        throw toApiError(e2);
      }
    }
  }

  /**
   * Single-flight recovery: stop lending sessions (new requests get ServiceUnavailable at once), drain
   * in-flight calls, C_Finalize, C_Initialize, log in, re-index; retried with exponential backoff.
   * Resolves when the token is ready again, or rejects after `waitMs` (recovery keeps going).
   */
  recover(cause?: unknown, waitMs = 5000): Promise<void> {
    if (!this.#recovery) {
      this.#recovery = this.#runRecovery(cause).finally(() => {
        this.#recovery = undefined;
      });
    }
    const timeout = delay(waitMs, undefined, { ref: false }).then(() => {
      throw new ApiError('ServiceUnavailable', 'The token is recovering; retry shortly.');
    });
    return Promise.race([this.#recovery, timeout]);
  }

  async #runRecovery(cause: unknown): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'recovering';
    this.#log.warn({ ckr: cause === undefined ? undefined : ckrName(ckrOf(cause) ?? 0) }, 'token recovery started');
    this.#pool?.close();
    await this.#drain(30000);
    let wait = this.config.recovery.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (this.#isClosed()) return;
      try {
        this.#disconnect();
        const m = this.#module;
        if (!m) return;
        m.finalize();
        m.initialize();
        this.#connect();
        this.#state = 'ready';
        this.#log.info({ attempt, keys: this.#entries.size }, 'token recovered');
        return;
      } catch (e) {
        this.#log.error({ attempt, err: describe(e) }, 'token recovery attempt failed');
        await delay(wait);
        wait = Math.min(Math.max(wait * 2, 1), this.config.recovery.maxDelayMs);
      }
    }
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #drain(deadlineMs: number): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #disconnect(): void {
    this.#pool?.close();
    this.#pool = undefined;
    if (this.#loginSession && this.#module?.initialized) {
      try {
        this.lib.C_CloseSession(this.#loginSession);
      } catch {
        // The session died with the module or token; nothing to release.
      }
    }
    this.#loginSession = undefined;
  }

  /** Graceful close: stop lending, wait for in-flight calls (up to the deadline), close sessions, finalize. */
  async close(deadlineMs = 10000): Promise<void> {
    if (this.#state === 'closed') return;
    const recovering = this.#recovery;
    this.#state = 'closed';
    clearInterval(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#pool?.close();
    await this.#drain(deadlineMs);
    if (recovering) await recovering.catch(() => undefined);
    this.#disconnect();
    this.#module?.release();
    this.#module = undefined;
  }

  /** Runs a synchronous admin call on the login session (object search, attribute reads, object creation). */
  admin<T>(fn: (session: pkcs11.Handle, lib: pkcs11.PKCS11) => T): T {
    if (this.#state !== 'ready' || !this.#loginSession) throw new ApiError('ServiceUnavailable');
    return fn(this.#loginSession, this.lib);
  }
}

function describe(e: unknown): string {
  const code = ckrOf(e);
  if (code !== undefined) return ckrName(code);
  return e instanceof Error ? e.message : String(e);
}
