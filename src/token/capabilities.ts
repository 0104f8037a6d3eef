import {
  KEY_SPECS,
  SIGNATURE_ALGORITHMS,
  type EncryptionAlgorithm,
  type KeySpec,
  type SignatureAlgorithm,
} from '../crypto/algorithms';
import { tokenSupports } from '../crypto/signPlan';
import type { Sm2Capabilities } from './sm2Probe';

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

/** What the functional probes (run in a PKCS#11 thread: probe.ts, sm2Probe.ts) proved. */
export interface ProbeResult {
  readonly decryption: EncryptionAlgorithm['name'][];
  readonly sm2: Sm2Capabilities | undefined;
}

export const NO_CAPABILITIES: TokenCapabilities = {
  mechanisms: new Set(),
  signatureAlgorithms: [],
  decryptionAlgorithms: [],
  keySpecs: [],
};

/**
 * The token's capabilities from its mechanism list and, once they ran, the functional probes. Before the probes
 * finish, signing and key generation of the standard algorithms are offered (their mechanisms are listed);
 * decryption and SM2 only after a probe proved them.
 */
export function capabilitiesOf(mechanismList: readonly number[], probe: ProbeResult | undefined): TokenCapabilities {
  const mechanisms = new Set(mechanismList);
  return {
    mechanisms,
    signatureAlgorithms: [
      // Without a profile, tokenSupports answers false for the vendor rows: SM2 comes from its probe below.
      ...SIGNATURE_ALGORITHMS.filter((a) => tokenSupports(a, mechanisms)).map((a) => a.id),
      ...(probe?.sm2?.signatureAlgorithms ?? []),
    ],
    decryptionAlgorithms: [...(probe?.decryption ?? []), ...(probe?.sm2?.decryptionAlgorithms ?? [])],
    keySpecs: [
      ...KEY_SPECS.filter((k) => k.generate && mechanisms.has(k.generate.mechanism)).map((k) => k.spec),
      ...(probe?.sm2?.keySpecs ?? []),
    ],
  };
}
