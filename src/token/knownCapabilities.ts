import * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import type { KeySpecRow, SignatureAlgorithm } from '../crypto/algorithms';
import type { Logger } from '../observability/logger';
import {
  capabilitiesOf,
  NO_CAPABILITIES,
  type KeySizes,
  type ProbeResult,
  type TokenCapabilities,
} from './capabilities';
import { describeFault } from './ckr';
import type { KeyEntry } from './keyIndex';
import type { RemoteLib } from './remoteLib';
import type { Pkcs11Executor } from './thread/executor';

/**
 * What one token is known to be able to do: its mechanism list (read at every connect) and what the functional
 * probes proved (run once, when the token is first opened), and the questions the operations ask of them.
 */
export class KnownCapabilities {
  readonly #config: TokenConfig;
  readonly #log: Logger;
  #caps: TokenCapabilities = NO_CAPABILITIES;
  #probe: Promise<void> | undefined;
  #probeResult: ProbeResult | undefined;
  #keySizes: KeySizes | undefined;

  constructor(config: TokenConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  get current(): TokenCapabilities {
    return this.#caps;
  }

  /**
   * The token (re)connected and listed `mechanisms`. The functional probes run once, when the token is first opened
   * (before it serves). After a re-initialisation the token is the same one: their result stands, and the token's
   * thread is not held up by throwaway key generation while requests wait behind it.
   */
  connected(executor: Pkcs11Executor, slot: pkcs11.Handle, mechanisms: number[], keySizes: KeySizes): void {
    this.#keySizes = keySizes;
    this.#caps = capabilitiesOf(mechanisms, this.#probeResult, keySizes);
    this.#probe ??= this.#runProbe(executor, slot, mechanisms);
  }

  /**
   * The decryption and SM2 probes generate throwaway session keys (RSA-2048, never the RSA-1024 a FIPS-mode HSM
   * refuses): seconds on some HSMs. They run in the token's PKCS#11 thread while the token opens, never on the event
   * loop, and not again after a re-initialisation.
   */
  async #runProbe(executor: Pkcs11Executor, slot: pkcs11.Handle, mechanisms: number[]): Promise<void> {
    const profile = this.#config.sm2;
    try {
      const result = (await executor.run(
        { op: 'probe', slot, mechanisms, ...(profile ? { sm2: profile } : {}) },
        this.#config.timeouts.keyGenerationMs,
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
}

/**
 * The key sizes of the listed key pair generation mechanisms (C_GetMechanismInfo), which limit the key specs offered;
 * a mechanism whose info cannot be read is not limited.
 */
export async function readKeySizes(
  lib: RemoteLib,
  slot: pkcs11.Handle,
  mechanisms: readonly number[],
): Promise<KeySizes> {
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
