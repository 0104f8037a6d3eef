import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import type { KeySpec, KeyType, Sm2Profile } from '../crypto/algorithms';
import { curveOfParams, ecParamsFor, ecSpki, rsaSpki } from '../crypto/keys';
import { certificateSignatureValid } from '../crypto/x509Signature';
import { readBool, readUlong } from './attributes';
import { usageBeyond, type KeyUsage, type TokenUsage } from './keyTemplates';
import { parseMetadata, type CertificateMetadata } from './metadata';
import type { RawObject, RawObjects } from './objectReader';

/** One signing identity on a token: a private key, its public key, and (unless PENDING) its certificate. */
export interface KeyEntry {
  /** The identifier: KMS `CertificateId` = CAS `CertIdentifier` = the certificate's (or key's) CKA_LABEL. */
  readonly id: string;
  readonly ckaId: Buffer;
  readonly keyType: KeyType;
  readonly keySpec: KeySpec | undefined;
  /** Handle of the private key, valid in this process until the module is re-initialised. */
  readonly privateKey: pkcs11.Handle;
  readonly publicKeyHandle: pkcs11.Handle | undefined;
  readonly certificateHandle: pkcs11.Handle | undefined;
  readonly metadataHandle: pkcs11.Handle | undefined;
  readonly publicKey: KeyObject;
  readonly spki: Buffer;
  /** Largest signature the token returns (RSA: modulus bytes; EC: 2 × field bytes, raw r‖s). */
  readonly signatureLength: number;
  /** The API may sign with it: the token allows it (CKA_SIGN) and the identity was granted it (metadata `usage`). */
  readonly canSign: boolean;
  /** The API may decrypt with it: CKA_DECRYPT and the grant, as for `canSign`. */
  readonly canDecrypt: boolean;
  /**
   * Usages the token allows that the identity was not granted: the weaker token-side restriction of a token whose
   * key templates cannot restrict usage (tpm2-pkcs11). The API refuses them; operators are told (CLI `slots`).
   */
  readonly beyondGrant: ReadonlyArray<'sign' | 'decrypt'>;
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly certificate: X509Certificate | undefined;
  /** Issuer chain from the token (DER), nearest issuer first. */
  readonly chain: readonly Buffer[];
  readonly isCA: boolean;
  readonly metadata: CertificateMetadata;
  /**
   * Why this identity refuses private-key use although it is on the token: its lifecycle metadata is missing,
   * damaged or duplicated, or its label or CKA_ID is ambiguous. Fail closed: an operator must repair it
   * (`p11bridge certs status ID ACTIVE` writes one fresh metadata object).
   */
  readonly problem: string | undefined;
}

/** A private key the index refused or flagged (extractable or not sensitive). */
interface InsecureKey {
  label: string;
  sensitive: boolean;
  extractable: boolean;
}

export interface IndexResult {
  entries: Map<string, KeyEntry>;
  /** Key pairs that are not certificate identities (KMS key versions), by CKA_LABEL. */
  keyPairs: Map<string, KeyEntry>;
  insecure: InsecureKey[];
  /** Objects skipped (unreadable, unparsable, unsupported) and ambiguities found, for the log. */
  skipped: string[];
}

const text = (b: Buffer | undefined): string => (b ? b.toString('utf8') : '');
const hex = (b: Buffer | undefined): string => (b ? b.toString('hex') : '');

interface CertRecord {
  handle: Buffer;
  label: string;
  ckaId: Buffer;
  x509: X509Certificate;
}

/** Groups records by a key; the empty key is not grouped (objects without a label or CKA_ID). */
function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === '') continue;
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * Builds the key index from the token's raw objects (objectReader.ts): links private keys, public keys,
 * certificates and lifecycle metadata by CKA_ID and label. Pure: no token call. Fail closed: an identity whose
 * metadata is missing, damaged or duplicated, or whose label or CKA_ID is shared with another key, is indexed with
 * a `problem` and refuses private-key use; it is never resolved by object order.
 * With an SM2 HSM profile, keys of its vendor key type are SM2 keys (EC keys on sm2p256v1 are SM2 keys anyway).
 */
export function buildIndex(raw: RawObjects, opts: { refuseInsecure: boolean; sm2?: Sm2Profile }): IndexResult {
  const skipped = [...raw.unreadable];
  const certs: CertRecord[] = raw.certificates.flatMap((o) => {
    const label = text(o.attrs[pkcs11.CKA_LABEL]);
    try {
      const der = o.attrs[pkcs11.CKA_VALUE];
      if (!der || der.length === 0) throw new Error('empty');
      return [
        { handle: o.handle, label, ckaId: o.attrs[pkcs11.CKA_ID] ?? Buffer.alloc(0), x509: new X509Certificate(der) },
      ];
    } catch {
      // SoftHSM2 2.6.1 leaves an empty certificate object behind a failed C_CreateObject (facts §3).
      skipped.push(`certificate object "${label}" has no parsable X.509 value`);
      return [];
    }
  });
  const certsById = groupBy(certs, (c) => hex(c.ckaId));

  const metadataByLabel = groupBy(raw.metadata, (o) => text(o.attrs[pkcs11.CKA_LABEL]));
  const publicById = groupBy(raw.publicKeys, (o) => hex(o.attrs[pkcs11.CKA_ID]));
  const privateById = groupBy(raw.privateKeys, (o) => hex(o.attrs[pkcs11.CKA_ID]));

  const entries = new Map<string, KeyEntry>();
  const keyPairs = new Map<string, KeyEntry>();
  const insecure: InsecureKey[] = [];
  const chains = chainBuilder(certs.map((c) => c.x509));
  for (const o of raw.privateKeys) {
    const a = o.attrs;
    const label = text(a[pkcs11.CKA_LABEL]);
    const ckaId = a[pkcs11.CKA_ID] ?? Buffer.alloc(0);
    const sensitive = readBool(a[pkcs11.CKA_SENSITIVE]);
    const extractable = readBool(a[pkcs11.CKA_EXTRACTABLE]);
    if (!sensitive || extractable) {
      insecure.push({ label, sensitive, extractable });
      if (opts.refuseInsecure) continue;
    }
    const problems: string[] = [];
    if (ckaId.length > 0 && (privateById.get(hex(ckaId))?.length ?? 0) > 1) {
      problems.push(`${privateById.get(hex(ckaId))?.length} private keys share its CKA_ID`);
    }
    const ownCerts = ckaId.length > 0 ? (certsById.get(hex(ckaId)) ?? []) : [];
    if (ownCerts.length > 1) problems.push(`${ownCerts.length} certificates share its CKA_ID`);
    const cert = ownCerts[0];
    const publicKeys = ckaId.length > 0 ? (publicById.get(hex(ckaId)) ?? []) : [];
    const pub = publicKeys[0];
    const ckk = readUlong(a[pkcs11.CKA_KEY_TYPE]);
    let keyType: KeyType;
    let spki: Buffer;
    let keySpec: KeySpec | undefined;
    let signatureLength: number;
    try {
      if (ckk === pkcs11.CKK_RSA) {
        keyType = 'RSA';
        const modulus = a[pkcs11.CKA_MODULUS] ?? Buffer.alloc(0);
        const bits = bitLength(modulus);
        keySpec = bits === 2048 ? 'RSA_2048' : bits === 3072 ? 'RSA_3072' : bits === 4096 ? 'RSA_4096' : undefined;
        signatureLength = Math.ceil(bits / 8);
        spki = cert ? spkiOf(cert.x509) : rsaSpki(modulus, a[pkcs11.CKA_PUBLIC_EXPONENT] ?? Buffer.from([1, 0, 1]));
      } else if (ckk === pkcs11.CKK_EC || ckk === opts.sm2?.keyType) {
        // A vendor SM2 key type implies the curve; some vendors do not even store CKA_EC_PARAMS on such keys.
        const params = ckk === pkcs11.CKK_EC ? (a[pkcs11.CKA_EC_PARAMS] ?? Buffer.alloc(0)) : ecParamsFor('SM2');
        const curve = curveOfParams(params);
        keyType = curve === 'SM2' ? 'SM2' : 'EC';
        keySpec =
          curve === 'P-256' ? 'EC_P256' : curve === 'secp256k1' ? 'EC_P256K' : curve === 'SM2' ? 'EC_SM2' : undefined;
        // Raw r‖s is 2 × 32 bytes (P-384: 2 × 48); a token that answers SM2 in DER needs room for 72.
        signatureLength = curve === 'P-384' ? 96 : curve === 'SM2' && opts.sm2?.signatureFormat === 'der' ? 72 : 64;
        const point = pub?.attrs[pkcs11.CKA_EC_POINT];
        if (cert) spki = spkiOf(cert.x509);
        else if (point) spki = ecSpki(params, point);
        else throw new Error('EC key without certificate or public key object');
      } else {
        skipped.push(`private key "${label}" has an unsupported key type 0x${ckk.toString(16)}`);
        continue;
      }
    } catch (e) {
      skipped.push(`private key "${label}": ${(e as Error).message}`);
      continue;
    }
    if (!cert && isKeyPairLabel(label)) {
      // A KMS key version (`<keyId>/<versionId>`, decision 0015): key material only, never a certificate identity.
      const previous = keyPairs.get(label);
      const why = previous ? `more than one private key carries label "${label}"` : undefined;
      if (why) skipped.push(why);
      keyPairs.set(label, {
        id: label,
        ckaId,
        keyType,
        keySpec,
        privateKey: o.handle,
        publicKeyHandle: pub?.handle,
        certificateHandle: undefined,
        metadataHandle: undefined,
        publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
        spki,
        signatureLength,
        canSign: readBool(a[pkcs11.CKA_SIGN]),
        canDecrypt: readBool(a[pkcs11.CKA_DECRYPT]),
        // A KMS key's record grants its usage (src/identities/keys): the token floor does not know it.
        beyondGrant: [],
        sensitive,
        extractable,
        certificate: undefined,
        chain: [],
        isCA: false,
        // Key pairs carry no certificate lifecycle: their owner (a KMS key's record) says whether they may be used.
        metadata: { status: 'ACTIVE' },
        problem: why ?? (problems.length > 0 ? problems.join('; ') : undefined),
      });
      continue;
    }
    const id = cert ? cert.label : label;
    if (!id) {
      skipped.push('a private key without CKA_LABEL and without a certificate is not addressable');
      continue;
    }
    const meta = metadataByLabel.get(id) ?? [];
    let metadata: CertificateMetadata;
    if (meta.length === 1) {
      const parsed = parseMetadata((meta[0] as RawObject).attrs[pkcs11.CKA_VALUE] ?? Buffer.alloc(0));
      if (parsed) metadata = parsed;
      else {
        problems.push('its lifecycle metadata object is damaged');
        metadata = { status: cert ? 'INACTIVE' : 'PENDING' };
      }
    } else if (meta.length > 1) {
      problems.push(`${meta.length} lifecycle metadata objects carry its label`);
      metadata = { status: cert ? 'INACTIVE' : 'PENDING' };
    } else if (cert) {
      problems.push('it has no lifecycle metadata object');
      metadata = { status: 'INACTIVE' };
    } else {
      // A key pair without a certificate and without metadata is a PENDING identity (no certificate to use yet).
      metadata = { status: 'PENDING' };
    }
    const previous = entries.get(id);
    if (previous) {
      // Two keys answer to one identifier: neither is served, whatever order the token listed them in.
      const why = `more than one private key answers to identifier "${id}"`;
      entries.set(id, { ...previous, problem: why });
      skipped.push(why);
      continue;
    }
    entries.set(id, {
      id,
      ckaId,
      keyType,
      keySpec,
      privateKey: o.handle,
      publicKeyHandle: pub?.handle,
      certificateHandle: cert?.handle,
      metadataHandle: meta[0]?.handle,
      publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
      spki,
      signatureLength,
      ...grantedUsage(metadata.usage, { sign: readBool(a[pkcs11.CKA_SIGN]), decrypt: readBool(a[pkcs11.CKA_DECRYPT]) }),
      sensitive,
      extractable,
      certificate: cert?.x509,
      chain: cert ? chains(cert.x509) : [],
      isCA: cert?.x509.ca ?? false,
      metadata,
      problem: problems.length > 0 ? problems.join('; ') : undefined,
    });
  }
  for (const e of entries.values()) if (e.problem) skipped.push(`identity "${e.id}" refused: ${e.problem}`);
  return { entries, keyPairs, insecure, skipped };
}

/** What the API may do with a key: what the token allows, narrowed to the identity's grant when it records one. */
function grantedUsage(
  granted: KeyUsage | undefined,
  token: TokenUsage,
): Pick<KeyEntry, 'canSign' | 'canDecrypt' | 'beyondGrant'> {
  if (!granted) return { canSign: token.sign, canDecrypt: token.decrypt, beyondGrant: [] };
  return {
    canSign: token.sign && granted !== 'decrypt',
    canDecrypt: token.decrypt && granted !== 'sign',
    beyondGrant: usageBeyond(granted, token),
  };
}

/**
 * Whether a private key's label names a key pair that is not a certificate identity: `<owner>/<version>`, the
 * label of a KMS key version (decision 0015). Certificate identifiers never contain `/` (CreateCertificate and the
 * CLI refuse it), and chain certificates (`<id>/chain/N`) are certificates, not keys.
 */
export function isKeyPairLabel(label: string): boolean {
  const slash = label.indexOf('/');
  return slash > 0 && slash < label.length - 1;
}

/**
 * Issuer chains among a set of certificates, linear in their number: issuers are looked up by subject name (not
 * by scanning), each certificate's chain is computed once and shared by every leaf below it.
 */
function chainBuilder(pool: readonly X509Certificate[]): (leaf: X509Certificate) => Buffer[] {
  const bySubject = new Map<string, X509Certificate[]>();
  for (const c of pool) {
    const list = bySubject.get(c.subject);
    if (list) list.push(c);
    else bySubject.set(c.subject, [c]);
  }
  const memo = new Map<string, Buffer[]>();
  const chainOf = (cert: X509Certificate, seen: Set<string>): Buffer[] => {
    const cached = memo.get(cert.fingerprint256);
    if (cached) return cached;
    let chain: Buffer[] = [];
    if (cert.issuer !== cert.subject) {
      const issuer = (bySubject.get(cert.issuer) ?? []).find(
        (c) => !seen.has(c.fingerprint256) && cert.checkIssued(c) && certificateSignatureValid(cert, c.publicKey),
      );
      if (issuer) {
        seen.add(issuer.fingerprint256);
        chain = [issuer.raw, ...chainOf(issuer, seen)];
      }
    }
    memo.set(cert.fingerprint256, chain);
    return chain;
  };
  return (leaf) => chainOf(leaf, new Set([leaf.fingerprint256]));
}

/** Walks issuer links among certificates (nearest issuer first; stops at a self-signed root or a loop). */
export function buildChain(leaf: X509Certificate, pool: readonly X509Certificate[]): Buffer[] {
  return chainBuilder(pool)(leaf);
}

function spkiOf(x: X509Certificate): Buffer {
  return x.publicKey.export({ type: 'spki', format: 'der' });
}

function bitLength(n: Buffer): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i] as number));
}
