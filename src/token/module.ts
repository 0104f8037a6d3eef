import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../observability/logger';
import { describeFault } from './ckr';

/** A token served from a module: what a coordinated re-initialisation asks of it. */
export interface ModuleMember {
  readonly name: string;
  /** Stops lending sessions; resolves when none of its calls is running in the module any more. */
  suspend(): Promise<void>;
  /** C_Finalize of its library instance (CKR_CRYPTOKI_NOT_INITIALIZED counts as done). */
  finalizeInstance(): Promise<void>;
  /** C_Initialize of its library instance (CKR_CRYPTOKI_ALREADY_INITIALIZED counts as done). */
  initializeInstance(): Promise<void>;
  /** After C_Initialize: finds its slot, logs in, re-reads its index (it handles its own failures). */
  reconnect(): Promise<void>;
}

/** How hard the module tries before the last rung (exit, so that the supervisor restarts the process). */
export interface ModulePolicy {
  /** Deadline of C_Initialize / C_Finalize (a network HSM's client may take seconds to connect). */
  readonly initializeMs: number;
  /** Longest wait for in-flight calls before a re-initialisation; past it the module cannot be finalised safely. */
  readonly drainMs: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Re-initialisations allowed within `windowMs` before the last rung. */
  readonly maxRecoveries: number;
  readonly windowMs: number;
}

/**
 * A PKCS#11 module path, once per process, shared by every token it serves, and the module's rung of the recovery
 * ladder: a device fault on any of its tokens leads to ONE coordinated re-initialisation (every token drains, every
 * token's library instance is finalised, then initialised, then every token logs in and re-indexes), never to one
 * token finalising the module under its siblings. For most modules the library state is per process (SoftHSM2,
 * facts §7: the first C_Finalize ends it for all, the others answer "not initialised"); for some (p11-kit's remoting
 * client) each instance is its own application; both work this way. When it cannot recover, or recovers too often
 * within a window, it calls `onFatal`: the process exits non-zero and its supervisor restarts it.
 */
export class Pkcs11Module {
  static readonly #byPath = new Map<string, Pkcs11Module>();

  readonly path: string;
  readonly #members = new Set<ModuleMember>();
  #refs = 0;
  #recovery: Promise<void> | undefined;
  #recoveries: number[] = [];
  #policy: ModulePolicy;
  #log: Logger;
  /** The last rung. The daemon exits; tests and the CLI get the error. */
  onFatal: (reason: string) => void;

  private constructor(path: string, policy: ModulePolicy, log: Logger) {
    this.path = path;
    this.#policy = policy;
    this.#log = log.child({ module: path });
    this.onFatal = (reason) => this.#log.fatal({ reason }, 'PKCS#11 module cannot recover');
  }

  /** The process-wide instance for a module path; pair with `release()`. */
  static acquire(path: string, policy: ModulePolicy, log: Logger): Pkcs11Module {
    let m = Pkcs11Module.#byPath.get(path);
    if (!m) {
      m = new Pkcs11Module(path, policy, log);
      Pkcs11Module.#byPath.set(path, m);
    }
    m.#refs++;
    return m;
  }

  join(member: ModuleMember): void {
    this.#members.add(member);
  }
  leave(member: ModuleMember): void {
    this.#members.delete(member);
  }

  /**
   * The module's rung: drain every token, C_Finalize once, C_Initialize once, reconnect every token. Single-flight:
   * tokens that report a device fault meanwhile join the running recovery. Resolves when the module is initialised
   * again (each token then reconnects on its own terms: a refused PIN keeps that token unavailable).
   */
  recover(cause: unknown): Promise<void> {
    this.#recovery ??= this.#runRecovery(cause).finally(() => {
      this.#recovery = undefined;
    });
    return this.#recovery;
  }

  get recovering(): boolean {
    return this.#recovery !== undefined;
  }

  /** Resolves when no re-initialisation is running (at once when none is). */
  async idle(): Promise<void> {
    while (this.#recovery) await this.#recovery.catch(() => undefined);
  }

  async #runRecovery(cause: unknown): Promise<void> {
    const now = Date.now();
    this.#recoveries = this.#recoveries.filter((t) => now - t < this.#policy.windowMs);
    this.#recoveries.push(now);
    const members = [...this.#members];
    this.#log.warn(
      { cause: describeFault(cause), tokens: members.map((m) => m.name), inWindow: this.#recoveries.length },
      'module re-initialisation: draining its tokens',
    );
    if (this.#recoveries.length > this.#policy.maxRecoveries) {
      this.onFatal(`${this.#recoveries.length} re-initialisations of ${this.path} within ${this.#policy.windowMs} ms`);
      return;
    }
    const drained = await Promise.race([
      Promise.all(members.map((m) => m.suspend())).then(() => true),
      delay(this.#policy.drainMs, false, { ref: false }),
    ]);
    if (!drained) {
      // C_Finalize with calls still inside the module crashes it (facts §0.3: 14/20 runs): never do that.
      this.onFatal(`calls into ${this.path} did not return within ${this.#policy.drainMs} ms; cannot re-initialise`);
      return;
    }
    let wait = this.#policy.initialDelayMs;
    for (let attempt = 1; this.#refs > 0; attempt++) {
      try {
        for (const m of members) await m.finalizeInstance();
        for (const m of members) await m.initializeInstance();
        break;
      } catch (e) {
        this.#log.error({ attempt, err: describeFault(e) }, 'module re-initialisation attempt failed');
        if (Date.now() - now > this.#policy.windowMs) {
          this.onFatal(`${this.path} could not be re-initialised for ${this.#policy.windowMs} ms`);
          return;
        }
        await delay(wait);
        wait = Math.min(Math.max(wait * 2, 1), this.#policy.maxDelayMs);
      }
    }
    this.#log.info({ tokens: members.map((m) => m.name) }, 'module re-initialised: tokens reconnecting');
    await Promise.all(members.map((m) => m.reconnect()));
  }

  /**
   * Drops one reference. True for the last one: that token finalises its instance (a sibling still open keeps the
   * library initialised; with per-process library state, finalising earlier would end it for the sibling).
   */
  release(): boolean {
    this.#refs--;
    if (this.#refs > 0) return false;
    Pkcs11Module.#byPath.delete(this.path);
    return true;
  }
}
