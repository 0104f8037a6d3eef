import {
  KEY_SPECS,
  SIGNATURE_ALGORITHMS,
  type EncryptionAlgorithm,
  type KeySpec,
  type KeySpecRow,
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
  /** The standard EC key specs the token generated when tried (ecProbe.ts): the curves it really has. */
  readonly ecKeySpecs?: readonly KeySpec[];
}

/** A key pair generation mechanism's key sizes in bits (CK_MECHANISM_INFO ulMinKeySize / ulMaxKeySize). */
interface KeySizeRange {
  readonly min: number;
  readonly max: number;
}

/** Key sizes by generation mechanism; a mechanism without an entry (or with max 0) is not limited. */
export type KeySizes = ReadonlyMap<number, KeySizeRange>;

/** The key size of a key spec in the units PKCS#11 gives for its generation mechanism (bits for RSA and EC). */
function keyBits(k: KeySpecRow): number | undefined {
  if (k.modulusBits !== undefined) return k.modulusBits;
  return k.curve === 'P-384' ? 384 : k.curve === 'P-256' || k.curve === 'secp256k1' ? 256 : undefined;
}

/**
 * Whether the mechanism's advertised sizes admit this key spec: tpm2-pkcs11 lists CKM_RSA_PKCS_KEY_PAIR_GEN for
 * 1024–3072 bits only, so RSA_4096 is not offered there (rather than failing at generation).
 */
function sizeFits(k: KeySpecRow, sizes: KeySizes | undefined): boolean {
  const range = k.generate ? sizes?.get(k.generate.mechanism) : undefined;
  const bits = keyBits(k);
  if (!range || range.max === 0 || bits === undefined) return true;
  return bits >= range.min && bits <= range.max;
}

/**
 * Whether an EC key spec's curve is proven: once the curve probe ran, only the curves it generated (a listed
 * CKM_EC_KEY_PAIR_GEN does not say which curves: tpm2-pkcs11 and NSS have no secp256k1). RSA and vendor rows pass.
 */
function curveProven(k: KeySpecRow, ecKeySpecs: readonly KeySpec[] | undefined): boolean {
  if (k.keyType !== 'EC' || k.vendorProfile !== undefined || ecKeySpecs === undefined) return true;
  return ecKeySpecs.includes(k.spec);
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
 * decryption and SM2 only after a probe proved them. Key specs are offered when their generation mechanism is listed
 * with sizes that admit them, and EC specs, once the curve probe ran, only for the curves it generated.
 */
export function capabilitiesOf(
  mechanismList: readonly number[],
  probe: ProbeResult | undefined,
  keySizes?: KeySizes,
): TokenCapabilities {
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
      ...KEY_SPECS.filter(
        (k) =>
          k.generate &&
          mechanisms.has(k.generate.mechanism) &&
          sizeFits(k, keySizes) &&
          curveProven(k, probe?.ecKeySpecs),
      ).map((k) => k.spec),
      ...(probe?.sm2?.keySpecs ?? []),
    ],
  };
}
