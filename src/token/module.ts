import { setTimeout as delay } from 'node:timers/promises';
import * as pkcs11 from 'pkcs11js';
import type { Logger } from '../observability/logger';
import { describeFault, isAlreadyInitialized, isNotInitialized } from './ckr';
import { Pkcs11Executor } from './thread/executor';

/** A token served from a module: what a coordinated re-initialisation asks of it. */
export interface ModuleMember {
  readonly name: string;
  /** Stops lending sessions; resolves when none of its calls is running in the module any more. */
  suspend(): Promise<void>;
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
 * A loaded PKCS#11 module, once per path per process (library state is per process, facts §7), shared by every
 * token it serves. It owns the one thread for module-wide calls (C_Initialize, C_Finalize, slot lists) and the
 * module's rung of the recovery ladder: a device fault on any of its tokens leads to ONE coordinated
 * re-initialisation (every token drains, one C_Finalize, one C_Initialize, every token logs in and re-indexes),
 * never to one token finalising the module under its siblings. When it cannot recover, or recovers too often
 * within a window, it calls `onFatal`: the process exits non-zero and its supervisor restarts it.
 */
export class Pkcs11Module {
  static readonly #byPath = new Map<string, Pkcs11Module>();

  readonly path: string;
  readonly #control: Pkcs11Executor;
  readonly #members = new Set<ModuleMember>();
  #refs = 0;
  #initialized: Promise<void> | undefined;
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
    this.#control = new Pkcs11Executor(path, 1);
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

  /** Runs a module-wide call (slot list, token info, mechanism list) on the module's thread. */
  call(fn: string, args: unknown[], deadlineMs = this.#policy.initializeMs): Promise<unknown> {
    return this.#control.run({ op: 'call', fn, args }, deadlineMs);
  }

  /**
   * C_Initialize with CKF_OS_LOCKING_OK, once (single-flight). Without the flag SoftHSM2 disables its mutexes and
   * crashes as soon as two sessions work at once (facts §0.1: 13/13 runs died).
   */
  initialize(): Promise<void> {
    this.#initialized ??= this.call('C_Initialize', [{ flags: pkcs11.CKF_OS_LOCKING_OK }]).then(
      () => undefined,
      (e: unknown) => {
        if (isAlreadyInitialized(e)) return;
        this.#initialized = undefined;
        throw e;
      },
    );
    return this.#initialized;
  }

  async #finalize(): Promise<void> {
    this.#initialized = undefined;
    try {
      await this.call('C_Finalize', []);
    } catch (e) {
      // Already finalised (CKR_CRYPTOKI_NOT_INITIALIZED): nothing left to release.
      if (!isNotInitialized(e)) throw e;
    }
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
        await this.#finalize();
        await this.initialize();
        break;
      } catch (e) {
        this.#log.error({ attempt, err: describeFault(e) }, 'module re-initialisation attempt failed');
        if (Date.now() - now > this.#policy.windowMs) {
          this.onFatal(`${this.path} could not be re-initialised for ${this.#policy.windowMs} ms`);
          return;
        }
        await delay(wait, undefined, { ref: false });
        wait = Math.min(Math.max(wait * 2, 1), this.#policy.maxDelayMs);
      }
    }
    this.#log.info({ tokens: members.map((m) => m.name) }, 'module re-initialised: tokens reconnecting');
    await Promise.all(members.map((m) => m.reconnect()));
  }

  /** Drops one reference; the last one finalises the module and stops its thread. */
  async release(): Promise<void> {
    this.#refs--;
    if (this.#refs > 0) return;
    Pkcs11Module.#byPath.delete(this.path);
    try {
      await this.#finalize();
    } catch {
      // A module that cannot finalise is being dropped anyway.
    }
    this.#control.close();
  }
}
