import * as pkcs11 from 'pkcs11js';
import { isAlreadyInitialized } from './ckr';

/**
 * A loaded PKCS#11 module. Library state is per process (a second `new PKCS11()` on the same .so shares it:
 * facts §7), so there is one instance per module path per process, shared by every token it serves.
 */
export class Pkcs11Module {
  static readonly #byPath = new Map<string, Pkcs11Module>();

  readonly path: string;
  readonly lib: pkcs11.PKCS11;
  #refs = 0;
  #initialized = false;
  /** Bumped at every C_Initialize: handles and sessions from an older generation are dead. */
  generation = 0;

  private constructor(path: string) {
    this.path = path;
    this.lib = new pkcs11.PKCS11();
    this.lib.load(path);
  }

  /** The process-wide instance for a module path, loaded and initialised; pair with `release()`. */
  static acquire(path: string): Pkcs11Module {
    let m = Pkcs11Module.#byPath.get(path);
    if (!m) {
      m = new Pkcs11Module(path);
      Pkcs11Module.#byPath.set(path, m);
    }
    m.#refs++;
    if (!m.#initialized) m.initialize();
    return m;
  }

  /**
   * C_Initialize with CKF_OS_LOCKING_OK. Without the flag SoftHSM2 disables its mutexes and crashes as soon as
   * two sessions work at once (facts §0.1: 13/13 runs died).
   */
  initialize(): void {
    try {
      this.lib.C_Initialize({ flags: pkcs11.CKF_OS_LOCKING_OK });
    } catch (e) {
      if (!isAlreadyInitialized(e)) throw e;
    }
    this.#initialized = true;
    this.generation++;
  }

  /** C_Finalize. The caller must have drained every in-flight async call first (facts §0.3: 14/20 crashes). */
  finalize(): void {
    if (!this.#initialized) return;
    this.#initialized = false;
    try {
      this.lib.C_Finalize();
    } catch {
      // Already finalised (CKR_CRYPTOKI_NOT_INITIALIZED): nothing left to release.
    }
  }

  get initialized(): boolean {
    return this.#initialized;
  }

  /** Drops one reference; the last one finalises and unloads the module. */
  release(): void {
    this.#refs--;
    if (this.#refs > 0) return;
    this.finalize();
    try {
      this.lib.close();
    } catch {
      // Unloading a module that failed to initialise may throw; the process keeps going.
    }
    Pkcs11Module.#byPath.delete(this.path);
  }
}
