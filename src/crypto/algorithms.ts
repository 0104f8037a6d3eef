import * as pkcs11 from 'pkcs11js';
import type { Sm2CiphertextFormat } from './sm2Ciphertext';

/**
 * The algorithm table: the only place that maps an API algorithm to PKCS#11 mechanisms.
 * Each row is seen under both product names where the two products share it
 * (KMS `RSA_PSS_SHA_256` = CAS `SHA256withRSA/PSS`). Callers receive a row, never a mechanism number.
 * Sources: ../shared/docs/alibaba-protocol.md §9.5, RFC 8017, X9.62, GB/T 32918.
 */

export type KeyType = 'RSA' | 'EC' | 'SM2';
export type KeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'EC_P256' | 'EC_P256K' | 'EC_P384' | 'EC_SM2';
type HashName = 'sha256' | 'sm3';

/** A PKCS#11 mechanism with its parameter, ready for C_SignInit / C_DecryptInit. */
interface MechanismSpec {
  readonly mechanism: number;
  readonly parameter?: pkcs11.IParams & Record<string, unknown>;
}

/**
 * How the token is asked to sign:
 * - `message`: the mechanism hashes (CKM_SHA256_RSA_PKCS): input is the raw message;
 * - `digestInfo`: CKM_RSA_PKCS over DER DigestInfo(hash) (RFC 8017 §9.2);
 * - `digest`: the mechanism takes the bare digest (CKM_RSA_PKCS_PSS, CKM_ECDSA).
 */
type SignInput = 'message' | 'digestInfo' | 'digest';

/** How the token's output becomes the API's bytes. */
type SignatureEncoding = 'rsa' | 'ecdsa-der' | 'sm2-der' | 'cms';

export interface SignatureAlgorithm {
  /** Stable internal name, used in logs and capability reports. */
  readonly id: 'RSA_PKCS1_SHA_256' | 'RSA_PSS_SHA_256' | 'ECDSA_SHA_256' | 'SM2DSA' | 'RSA_P7_SHA_256' | 'RSA_BLIND';
  readonly kmsName?: string;
  readonly casName?: string;
  readonly keyType: KeyType;
  readonly keySpecs: readonly KeySpec[];
  readonly hash: HashName;
  readonly digestLength: number;
  /** Token-side hashing: used for RAW messages when the token offers it. */
  readonly onMessage?: MechanismSpec & { readonly input: Extract<SignInput, 'message'> };
  /** Hash in software, sign the digest: used for DIGEST, and for RAW when `onMessage` is absent on the token. */
  readonly onDigest?: MechanismSpec & { readonly input: Exclude<SignInput, 'message'> };
  /** Mechanisms come from the token's HSM profile (SM2 is vendor-defined; PKCS#11 has no number for it). */
  readonly vendorProfile?: 'sm2';
  /**
   * For vendor rows, the profile roles that play `onDigest` (the token signs the prepared value, SM2's e) and
   * `onMessage` (the token hashes the message itself): the profile maps each role to the vendor's number.
   */
  readonly vendorRoles?: { readonly onDigest: Sm2Role; readonly onMessage: Sm2Role };
  readonly encoding: SignatureEncoding;
  /** Signature over the RAW message on the verify side (node:crypto name and options). */
  readonly verify: { readonly nodeHash: string; readonly pss?: { readonly saltLength: number } };
  /** The name messages use: the KMS name, else the CAS name, else the internal id. */
  readonly label: string;
  /** Whether a key of this type and spec can make this signature (the key spec, when known, must be listed). */
  fitsKey(key: KeyFacts): boolean;
  /** Whether the daemon verifies this signature in software (CMS and the raw blind operation are not verified). */
  readonly verifiable: boolean;
  /**
   * Why a token cannot serve this row, for the caller: the capability it lacks (`where`: "the token behind …";
   * `as`: the name the request used, by default the label).
   */
  unavailableOn(where: string, as?: string): string;
  /** A vendor row: a token serves it for all its keys or for none (its HSM profile), not key by key. */
  readonly tokenWide: boolean;
  /** The SM2 HSM profile planning this row uses on a token that has `sm2Profile` (undefined for standard rows). */
  profileOn(sm2Profile: Sm2Profile | undefined): Sm2Profile | undefined;
}

/** What fit-to-key questions look at: a key's type and, when known, its spec. */
interface KeyFacts {
  readonly keyType: KeyType;
  readonly keySpec?: KeySpec | string | undefined;
}

/**
 * The one wording of a missing capability. Vendor rows need the token's HSM profile for their numbers (PKCS#11 has
 * none for SM2); a standard row lacks only the token's mechanism.
 */
function unavailable(label: string, vendorProfile: 'sm2' | undefined, where: string): string {
  return vendorProfile === 'sm2'
    ? `${label} needs SM2, which ${where} does not offer (no SM2 HSM profile).`
    : `${label} is not supported by ${where}.`;
}

/** A key fits when its type is the row's and its spec (if known) is one of the row's. */
function fitsKeyOf(keyType: KeyType, keySpecs: readonly KeySpec[]): (key: KeyFacts) => boolean {
  return (key) =>
    key.keyType === keyType && (key.keySpec === undefined || (keySpecs as readonly string[]).includes(key.keySpec));
}

type SignatureData = Omit<
  SignatureAlgorithm,
  'label' | 'fitsKey' | 'verifiable' | 'unavailableOn' | 'profileOn' | 'tokenWide'
>;

/** A signature row: its data, and the behaviour every caller asks of it. */
function signatureRow(data: SignatureData): SignatureAlgorithm {
  const label = data.kmsName ?? data.casName ?? data.id;
  return {
    ...data,
    label,
    fitsKey: fitsKeyOf(data.keyType, data.keySpecs),
    verifiable: data.encoding !== 'cms' && data.id !== 'RSA_BLIND',
    unavailableOn: (where, as = label) => unavailable(as, data.vendorProfile, where),
    profileOn: (profile) => (data.vendorProfile === 'sm2' ? profile : undefined),
    tokenWide: data.vendorProfile !== undefined,
  };
}

const pssParams = (): pkcs11.IParams & Record<string, unknown> => ({
  type: pkcs11.CK_PARAMS_RSA_PSS,
  hashAlg: pkcs11.CKM_SHA256,
  mgf: pkcs11.CKG_MGF1_SHA256,
  // Salt length 32 = the digest length, as Alibaba's Java encryption SDK uses (protocol §9.5).
  saltLen: 32,
});

const RSA_SPECS: readonly KeySpec[] = ['RSA_2048', 'RSA_3072', 'RSA_4096'];

/** RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2): the token hashes, or signs DigestInfo(SHA-256). */
function rsaPkcs1(
  id: 'RSA_PKCS1_SHA_256' | 'RSA_P7_SHA_256',
  names: { kmsName?: string; casName: string },
  encoding: 'rsa' | 'cms',
): SignatureAlgorithm {
  return signatureRow({
    id,
    ...names,
    keyType: 'RSA',
    keySpecs: RSA_SPECS,
    hash: 'sha256',
    digestLength: 32,
    onMessage: { mechanism: pkcs11.CKM_SHA256_RSA_PKCS, input: 'message' },
    onDigest: { mechanism: pkcs11.CKM_RSA_PKCS, input: 'digestInfo' },
    encoding,
    verify: { nodeHash: 'sha256' },
  });
}

/** RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (RFC 8017 §8.1; protocol §9.5). */
function rsaPss(): SignatureAlgorithm {
  return signatureRow({
    id: 'RSA_PSS_SHA_256',
    kmsName: 'RSA_PSS_SHA_256',
    casName: 'SHA256withRSA/PSS',
    keyType: 'RSA',
    keySpecs: RSA_SPECS,
    hash: 'sha256',
    digestLength: 32,
    onMessage: { mechanism: pkcs11.CKM_SHA256_RSA_PKCS_PSS, parameter: pssParams(), input: 'message' },
    onDigest: { mechanism: pkcs11.CKM_RSA_PKCS_PSS, parameter: pssParams(), input: 'digest' },
    encoding: 'rsa',
    verify: { nodeHash: 'sha256', pss: { saltLength: 32 } },
  });
}

/** ECDSA with SHA-256 (X9.62), DER `SEQUENCE { r, s }` on the wire. */
function ecdsa(): SignatureAlgorithm {
  return signatureRow({
    id: 'ECDSA_SHA_256',
    kmsName: 'ECDSA_SHA_256',
    casName: 'SHA256withECDSA',
    keyType: 'EC',
    // EC_P256K (secp256k1) exists only for KMS keys (AsymmetricSign doc): certificates stay on P-256.
    keySpecs: ['EC_P256', 'EC_P256K'],
    hash: 'sha256',
    digestLength: 32,
    // SoftHSM2 2.6.1 has no CKM_ECDSA_SHA256 (SoftHSMv2#620): the capability probe then falls back to onDigest.
    onMessage: { mechanism: pkcs11.CKM_ECDSA_SHA256, input: 'message' },
    onDigest: { mechanism: pkcs11.CKM_ECDSA, input: 'digest' },
    encoding: 'ecdsa-der',
    verify: { nodeHash: 'sha256' },
  });
}

/** SM2 with SM3 (GB/T 32918.2): vendor mechanisms, by the roles of the token's HSM profile. */
function sm2Dsa(): SignatureAlgorithm {
  return signatureRow({
    id: 'SM2DSA',
    kmsName: 'SM2DSA',
    casName: 'SM3withSM2',
    keyType: 'SM2',
    keySpecs: ['EC_SM2'],
    hash: 'sm3',
    digestLength: 32,
    vendorProfile: 'sm2',
    vendorRoles: { onDigest: 'sign', onMessage: 'sm3WithSm2' },
    encoding: 'sm2-der',
    verify: { nodeHash: 'sm3' },
  });
}

/**
 * CAS Sign MessageType=BLIND: the raw RSA private-key operation s = m^d mod n (RFC 9474 §4.3 BlindSign) on a
 * blinded message the client prepared. No API algorithm name reaches it: only `blindSigningAlgorithm()`.
 * The input is the k-byte big-endian integer m < n; the caller checks both (src/crypto/rawRsa.ts).
 */
function rsaBlind(): SignatureAlgorithm {
  return signatureRow({
    id: 'RSA_BLIND',
    keyType: 'RSA',
    keySpecs: RSA_SPECS,
    hash: 'sha256',
    digestLength: 32,
    onMessage: { mechanism: pkcs11.CKM_RSA_X_509, input: 'message' },
    encoding: 'rsa',
    verify: { nodeHash: 'sha256' },
  });
}

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  rsaPkcs1('RSA_PKCS1_SHA_256', { kmsName: 'RSA_PKCS1_SHA_256', casName: 'SHA256withRSA' }, 'rsa'),
  rsaPss(),
  ecdsa(),
  sm2Dsa(),
  // The CMS signer signs DER(signedAttrs): the same mechanisms as SHA256withRSA.
  rsaPkcs1('RSA_P7_SHA_256', { casName: 'SHA256withRSA/P7' }, 'cms'),
  rsaBlind(),
];

const byKms = new Map<string, SignatureAlgorithm>();
const byCas = new Map<string, SignatureAlgorithm>();
for (const a of SIGNATURE_ALGORITHMS) {
  if (a.kmsName) byKms.set(a.kmsName, a);
  if (a.casName) byCas.set(a.casName, a);
}

/** The row for a KMS `Algorithm` value, or undefined. */
export function kmsSignatureAlgorithm(name: string): SignatureAlgorithm | undefined {
  return byKms.get(name);
}

/** The row for a CAS `SigningAlgorithm` value, or undefined. */
export function casSignatureAlgorithm(name: string): SignatureAlgorithm | undefined {
  return byCas.get(name);
}

/** The row that signs a blinded message (CAS `MessageType=BLIND`) with the raw RSA operation. */
export function blindSigningAlgorithm(): SignatureAlgorithm {
  const row = SIGNATURE_ALGORITHMS.find((a) => a.id === 'RSA_BLIND');
  if (!row) throw new Error('no algorithm row RSA_BLIND');
  return row;
}

/** The KMS `Algorithm` values a key of this spec signs with (alibaba-kms-keys.md §5.3), in table order. */
export function kmsSigningAlgorithmsFor(keySpec: string): SignatureAlgorithm[] {
  return SIGNATURE_ALGORITHMS.filter(
    (a) => a.kmsName !== undefined && (a.keySpecs as readonly string[]).includes(keySpec),
  );
}

/** Names accepted by each product, for error messages and docs. */
export const KMS_SIGNATURE_NAMES = SIGNATURE_ALGORITHMS.flatMap((a) => (a.kmsName ? [a.kmsName] : []));
export const CAS_SIGNATURE_NAMES = SIGNATURE_ALGORITHMS.flatMap((a) => (a.casName ? [a.casName] : []));

// ---------------------------------------------------------------------------------------------------------------
// Encryption (KMS CertificatePublicKeyEncrypt / CertificatePrivateKeyDecrypt, CAS Encrypt / Decrypt).

export interface EncryptionAlgorithm {
  readonly name: 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'SM2PKE';
  readonly keyType: KeyType;
  /** The key specs of KMS keys that use it (alibaba-kms-keys.md §5.3); certificates are matched by key type. */
  readonly keySpecs: readonly KeySpec[];
  /** Largest plaintext for a 2048-bit key (k - 2·hLen - 2), as the cloud documents. */
  readonly maxPlaintext: number;
  readonly decrypt?: MechanismSpec;
  readonly vendorProfile?: 'sm2';
  /** For vendor rows: the profile role that decrypts (and whose ciphertext format the profile names). */
  readonly vendorRole?: Sm2Role;
  /** node:crypto OAEP hash for the public-key side. */
  readonly oaepHash?: 'sha1' | 'sha256';
  /** Whether a key of this type and spec can use it. */
  fitsKey(key: KeyFacts): boolean;
  /** Whether a token with this SM2 HSM profile (or none) has what the row needs: a mechanism or a profile. */
  servedBy(sm2Profile: Sm2Profile | undefined): boolean;
  /** Why a token cannot serve this row, for the caller (`where`: "the token behind …"). */
  unavailableOn(where: string): string;
}

type EncryptionData = Omit<EncryptionAlgorithm, 'fitsKey' | 'servedBy' | 'unavailableOn'>;

/** An encryption row: its data, and the behaviour every caller asks of it. */
function encryptionRow(data: EncryptionData): EncryptionAlgorithm {
  return {
    ...data,
    fitsKey: fitsKeyOf(data.keyType, data.keySpecs),
    servedBy: (profile) =>
      data.vendorProfile === 'sm2' ? profile !== undefined : data.decrypt !== undefined && data.oaepHash !== undefined,
    unavailableOn: (where) => unavailable(data.name, data.vendorProfile, where),
  };
}

/** RSAES-OAEP with MGF1 over the same hash and an empty label (RFC 8017 §7.1). */
function rsaOaep(hash: 'sha1' | 'sha256'): EncryptionAlgorithm {
  const sha1 = hash === 'sha1';
  return encryptionRow({
    name: sha1 ? 'RSAES_OAEP_SHA_1' : 'RSAES_OAEP_SHA_256',
    keyType: 'RSA',
    keySpecs: RSA_SPECS,
    maxPlaintext: sha1 ? 214 : 190,
    decrypt: {
      mechanism: pkcs11.CKM_RSA_PKCS_OAEP,
      parameter: {
        type: pkcs11.CK_PARAMS_RSA_OAEP,
        hashAlg: sha1 ? pkcs11.CKM_SHA_1 : pkcs11.CKM_SHA256,
        mgf: sha1 ? pkcs11.CKG_MGF1_SHA1 : pkcs11.CKG_MGF1_SHA256,
        source: 1,
      },
    },
    oaepHash: hash,
  });
}

export const ENCRYPTION_ALGORITHMS: readonly EncryptionAlgorithm[] = [
  rsaOaep('sha1'),
  rsaOaep('sha256'),
  encryptionRow({
    name: 'SM2PKE',
    keyType: 'SM2',
    keySpecs: ['EC_SM2'],
    maxPlaintext: 6047,
    vendorProfile: 'sm2',
    vendorRole: 'encrypt',
  }),
];

/** The KMS `Algorithm` values a key of this spec encrypts with (alibaba-kms-keys.md §5.3), in table order. */
export function kmsEncryptionAlgorithmsFor(keySpec: string): EncryptionAlgorithm[] {
  return ENCRYPTION_ALGORITHMS.filter((a) => (a.keySpecs as readonly string[]).includes(keySpec));
}

/** The row for an encryption `Algorithm` value (CAS's metadata also spells `RSAESOAEPSHA_1`). */
export function encryptionAlgorithm(name: string): EncryptionAlgorithm | undefined {
  const normal =
    name === 'RSAESOAEPSHA_1' ? 'RSAES_OAEP_SHA_1' : name === 'RSAESOAEPSHA_256' ? 'RSAES_OAEP_SHA_256' : name;
  return ENCRYPTION_ALGORITHMS.find((a) => a.name === normal);
}

// ---------------------------------------------------------------------------------------------------------------
// Key generation (demo provisioning, KMS CreateCertificate).

export interface KeySpecRow {
  readonly spec: KeySpec;
  readonly keyType: KeyType;
  readonly generate?: MechanismSpec;
  readonly modulusBits?: number;
  readonly curve?: 'P-256' | 'P-384' | 'SM2' | 'secp256k1';
  /** Served for KMS keys (CreateKey) only, never for certificates (CreateCertificate, demo provisioning). */
  readonly kmsKeyOnly?: boolean;
  /** `DescribeCertificate.SignatureAlgorithm` as KMS names it. */
  readonly describeAlgorithm: string;
  readonly vendorProfile?: 'sm2';
  /** For vendor rows: the profile role that generates the key pair. */
  readonly vendorRole?: Sm2Role;
  /** Why a token cannot generate this spec, for the caller (`where`: "the token behind …"). */
  unavailableOn(where: string): string;
  /** The SM2 HSM profile key generation uses on a token that has `sm2Profile` (undefined for standard specs). */
  profileOn(sm2Profile: Sm2Profile | undefined): Sm2Profile | undefined;
}

/** A key-spec row: its data, and the behaviour callers ask of it. */
function keySpecRowOf(data: Omit<KeySpecRow, 'unavailableOn' | 'profileOn'>): KeySpecRow {
  return {
    ...data,
    unavailableOn: (where) => unavailable(`KeySpec ${data.spec}`, data.vendorProfile, where),
    profileOn: (profile) => (data.vendorProfile === 'sm2' ? profile : undefined),
  };
}

export const KEY_SPECS: readonly KeySpecRow[] = [
  keySpecRowOf({
    spec: 'RSA_2048',
    keyType: 'RSA',
    generate: { mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN },
    modulusBits: 2048,
    describeAlgorithm: 'RSA2048-SHA256',
  }),
  keySpecRowOf({
    spec: 'RSA_3072',
    keyType: 'RSA',
    generate: { mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN },
    modulusBits: 3072,
    describeAlgorithm: 'RSA3072-SHA256',
  }),
  keySpecRowOf({
    spec: 'RSA_4096',
    keyType: 'RSA',
    generate: { mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN },
    modulusBits: 4096,
    describeAlgorithm: 'RSA4096-SHA256',
  }),
  keySpecRowOf({
    spec: 'EC_P256',
    keyType: 'EC',
    generate: { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
    curve: 'P-256',
    describeAlgorithm: 'ECDSA-SHA256',
  }),
  keySpecRowOf({
    spec: 'EC_P256K',
    keyType: 'EC',
    generate: { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
    curve: 'secp256k1',
    describeAlgorithm: 'ECDSA-SHA256',
    kmsKeyOnly: true,
  }),
  keySpecRowOf({
    spec: 'EC_P384',
    keyType: 'EC',
    generate: { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
    curve: 'P-384',
    describeAlgorithm: 'ECDSA-SHA384',
  }),
  keySpecRowOf({
    spec: 'EC_SM2',
    keyType: 'SM2',
    curve: 'SM2',
    vendorProfile: 'sm2',
    vendorRole: 'keyPairGen',
    describeAlgorithm: 'SM2-SM3',
  }),
];

/** The key-spec row by name. */
export function keySpecRow(spec: string): KeySpecRow | undefined {
  return KEY_SPECS.find((k) => k.spec === spec);
}

/** The algorithm that signs certificates and CSRs made with a key of this spec. */
export function certificateSigningAlgorithm(keyType: KeyType): SignatureAlgorithm {
  const id = keyType === 'RSA' ? 'RSA_PKCS1_SHA_256' : keyType === 'EC' ? 'ECDSA_SHA_256' : 'SM2DSA';
  const row = SIGNATURE_ALGORITHMS.find((a) => a.id === id);
  if (!row) throw new Error(`no algorithm row ${id}`);
  return row;
}

// ---------------------------------------------------------------------------------------------------------------
// HSM profiles: SM2 through vendor-defined mechanisms (config `tokens[].sm2`, samples in docs/hsm/).

/** What a vendor number realises: key pair generation, signing (e or message), SM3-with-SM2, SM2 encryption, SM3. */
export type Sm2Role = 'keyPairGen' | 'sign' | 'sm3WithSm2' | 'encrypt' | 'sm3';

/**
 * A token's SM2 profile: the vendor's key type and mechanism numbers by role, and how its mechanisms behave.
 * Validated by `src/config/schema.ts`; the rows above say which role realises each API algorithm, and the plan
 * code (signPlan.ts, sm2Plan.ts) picks the number from here. Nothing else in the code knows vendor numbers.
 */
export interface Sm2Profile {
  /** Who defines these numbers (logs and docs). */
  readonly vendor: string;
  /** CKA_KEY_TYPE of SM2 keys: a vendor CKK, or CKK_EC (3) for tokens that keep SM2 keys as EC keys on sm2p256v1. */
  readonly keyType: number;
  readonly mechanisms: Readonly<Partial<Record<Sm2Role, number>>> & { readonly keyPairGen: number };
  /** What the `sign` mechanism takes: e = SM3(Z_A ‖ M) (GB/T 32918.2 §6.1), or the message (it hashes itself). */
  readonly signInput: 'e' | 'message';
  /** What the signing mechanisms return: raw r ‖ s (64 bytes), or DER `SEQUENCE { r, s }` (X9.62). */
  readonly signatureFormat: 'raw' | 'der';
  /** The ciphertext the `encrypt` mechanism takes and returns. */
  readonly ciphertextFormat: Sm2CiphertextFormat;
  /** Whether key generation templates carry CKA_EC_PARAMS (the sm2p256v1 OID). */
  readonly keyGenEcParams: boolean;
  /** The distinguishing ID of the API's SM2 signatures (Z_A); certificates and CSRs always use the default. */
  readonly userId: string;
}

/** The rows an SM2 HSM profile realises (for its capability probe): signature, encryption and key spec. */
export function sm2Rows(): { sign: SignatureAlgorithm; encrypt: EncryptionAlgorithm; keySpec: KeySpecRow } {
  const sign = SIGNATURE_ALGORITHMS.find((a) => a.vendorProfile === 'sm2');
  const encrypt = ENCRYPTION_ALGORITHMS.find((a) => a.vendorProfile === 'sm2');
  const keySpec = KEY_SPECS.find((k) => k.vendorProfile === 'sm2');
  if (!sign || !encrypt || !keySpec) throw new Error('the algorithm table has no SM2 rows');
  return { sign, encrypt, keySpec };
}

/** The vendor number that realises `role` on a token with this profile, if the profile names one. */
export function sm2Mechanism(profile: Sm2Profile, role: Sm2Role): number | undefined {
  return profile.mechanisms[role];
}
