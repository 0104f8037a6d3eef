import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import type { KeySpec, KeyType, Sm2Profile } from '../crypto/algorithms';
import { curveOfParams, ecParamsFor, ecSpki, rsaSpki } from '../crypto/keys';
import { certificateSignatureValid } from '../crypto/x509Signature';
import { findObjects, getAttributes, readBool, readUlong } from './attributes';
import { DEFAULT_METADATA, METADATA_APPLICATION, parseMetadata, type CertificateMetadata } from './metadata';

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
  readonly canSign: boolean;
  readonly canDecrypt: boolean;
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly certificate: X509Certificate | undefined;
  /** Issuer chain from the token (DER), nearest issuer first. */
  readonly chain: readonly Buffer[];
  readonly isCA: boolean;
  readonly metadata: CertificateMetadata;
}

/** A private key the index refused or flagged (extractable or not sensitive). */
export interface InsecureKey {
  label: string;
  sensitive: boolean;
  extractable: boolean;
}

export interface IndexResult {
  entries: Map<string, KeyEntry>;
  insecure: InsecureKey[];
  /** Certificates without a private key on this token (chain material). */
  chainCertificates: X509Certificate[];
  /** Objects skipped because they could not be read (for the log). */
  skipped: string[];
}

const text = (b: Buffer | undefined): string => (b ? b.toString('utf8') : '');

/**
 * Reads every certificate, private key, public key and metadata object of the token and links them by
 * CKA_ID. Synchronous PKCS#11 calls on the JS thread: run at start and after a token change, never per request.
 * With an SM2 HSM profile, keys of its vendor key type are SM2 keys (EC keys on sm2p256v1 are SM2 keys anyway).
 */
export function buildIndex(
  lib: pkcs11.PKCS11,
  session: pkcs11.Handle,
  opts: { refuseInsecure: boolean; sm2?: Sm2Profile },
): IndexResult {
  const skipped: string[] = [];
  const certs = findObjects(lib, session, [
    { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
    { type: pkcs11.CKA_CERTIFICATE_TYPE, value: pkcs11.CKC_X_509 },
  ]).flatMap((h) => {
    const a = getAttributes(lib, session, h, [pkcs11.CKA_LABEL, pkcs11.CKA_ID, pkcs11.CKA_VALUE]);
    const der = a.get(pkcs11.CKA_VALUE);
    try {
      if (!der || der.length === 0) throw new Error('empty');
      return [
        {
          handle: h,
          label: text(a.get(pkcs11.CKA_LABEL)),
          ckaId: a.get(pkcs11.CKA_ID) ?? Buffer.alloc(0),
          x509: new X509Certificate(der),
        },
      ];
    } catch {
      // SoftHSM2 2.6.1 leaves an empty certificate object behind a failed C_CreateObject (facts §3).
      skipped.push(`certificate object "${text(a.get(pkcs11.CKA_LABEL))}" has no parsable X.509 value`);
      return [];
    }
  });

  const metadata = new Map<string, { handle: pkcs11.Handle; value: CertificateMetadata }>();
  for (const h of findObjects(lib, session, [
    { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
    { type: pkcs11.CKA_APPLICATION, value: METADATA_APPLICATION },
  ])) {
    const a = getAttributes(lib, session, h, [pkcs11.CKA_LABEL, pkcs11.CKA_VALUE]);
    const label = text(a.get(pkcs11.CKA_LABEL));
    const value = parseMetadata(a.get(pkcs11.CKA_VALUE) ?? Buffer.alloc(0));
    if (value) metadata.set(label, { handle: h, value });
    else skipped.push(`metadata object "${label}" is not valid JSON metadata`);
  }

  const publicKeys = new Map<string, pkcs11.Handle>();
  for (const h of findObjects(lib, session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY }])) {
    const a = getAttributes(lib, session, h, [pkcs11.CKA_ID]);
    publicKeys.set((a.get(pkcs11.CKA_ID) ?? Buffer.alloc(0)).toString('hex'), h);
  }

  const entries = new Map<string, KeyEntry>();
  const insecure: InsecureKey[] = [];
  const linkedCerts = new Set<string>();
  for (const h of findObjects(lib, session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY }])) {
    const a = getAttributes(lib, session, h, [
      pkcs11.CKA_LABEL,
      pkcs11.CKA_ID,
      pkcs11.CKA_KEY_TYPE,
      pkcs11.CKA_SENSITIVE,
      pkcs11.CKA_EXTRACTABLE,
      pkcs11.CKA_SIGN,
      pkcs11.CKA_DECRYPT,
    ]);
    const label = text(a.get(pkcs11.CKA_LABEL));
    const ckaId = a.get(pkcs11.CKA_ID) ?? Buffer.alloc(0);
    const sensitive = readBool(a.get(pkcs11.CKA_SENSITIVE));
    const extractable = readBool(a.get(pkcs11.CKA_EXTRACTABLE));
    if (!sensitive || extractable) {
      insecure.push({ label, sensitive, extractable });
      if (opts.refuseInsecure) continue;
    }
    const ckk = readUlong(a.get(pkcs11.CKA_KEY_TYPE));
    const pubHandle = publicKeys.get(ckaId.toString('hex'));
    const cert = certs.find((c) => c.ckaId.equals(ckaId) && ckaId.length > 0);
    let keyType: KeyType;
    let spki: Buffer;
    let keySpec: KeySpec | undefined;
    let signatureLength: number;
    try {
      if (ckk === pkcs11.CKK_RSA) {
        keyType = 'RSA';
        const k = getAttributes(lib, session, h, [pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT]);
        const modulus = k.get(pkcs11.CKA_MODULUS) ?? Buffer.alloc(0);
        const bits = bitLength(modulus);
        keySpec = bits === 2048 ? 'RSA_2048' : bits === 3072 ? 'RSA_3072' : bits === 4096 ? 'RSA_4096' : undefined;
        signatureLength = Math.ceil(bits / 8);
        spki = cert ? spkiOf(cert.x509) : rsaSpki(modulus, k.get(pkcs11.CKA_PUBLIC_EXPONENT) ?? Buffer.from([1, 0, 1]));
      } else if (ckk === pkcs11.CKK_EC || ckk === opts.sm2?.keyType) {
        // A vendor SM2 key type implies the curve; some vendors do not even store CKA_EC_PARAMS on such keys.
        const params =
          ckk === pkcs11.CKK_EC
            ? (getAttributes(lib, session, h, [pkcs11.CKA_EC_PARAMS]).get(pkcs11.CKA_EC_PARAMS) ?? Buffer.alloc(0))
            : ecParamsFor('SM2');
        const curve = curveOfParams(params);
        keyType = curve === 'SM2' ? 'SM2' : 'EC';
        keySpec = curve === 'P-256' ? 'EC_P256' : curve === 'SM2' ? 'EC_SM2' : undefined;
        // Raw r‖s is 2 × 32 bytes (P-384: 2 × 48); a token that answers SM2 in DER needs room for 72.
        signatureLength = curve === 'P-384' ? 96 : curve === 'SM2' && opts.sm2?.signatureFormat === 'der' ? 72 : 64;
        if (cert) spki = spkiOf(cert.x509);
        else if (pubHandle) {
          const p = getAttributes(lib, session, pubHandle, [pkcs11.CKA_EC_POINT]);
          spki = ecSpki(params, p.get(pkcs11.CKA_EC_POINT) ?? Buffer.alloc(0));
        } else throw new Error('EC key without certificate or public key object');
      } else {
        skipped.push(`private key "${label}" has an unsupported key type 0x${ckk.toString(16)}`);
        continue;
      }
    } catch (e) {
      skipped.push(`private key "${label}": ${(e as Error).message}`);
      continue;
    }
    const id = cert ? cert.label : label;
    if (!id) {
      skipped.push('a private key without CKA_LABEL and without a certificate is not addressable');
      continue;
    }
    if (cert) linkedCerts.add(cert.handle.toString('hex'));
    const meta = metadata.get(id);
    const isCA = cert?.x509.ca ?? false;
    entries.set(id, {
      id,
      ckaId,
      keyType,
      keySpec,
      privateKey: h,
      publicKeyHandle: pubHandle,
      certificateHandle: cert?.handle,
      metadataHandle: meta?.handle,
      publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
      spki,
      signatureLength,
      canSign: readBool(a.get(pkcs11.CKA_SIGN)),
      canDecrypt: readBool(a.get(pkcs11.CKA_DECRYPT)),
      sensitive,
      extractable,
      certificate: cert?.x509,
      chain: [],
      isCA,
      metadata: meta?.value ?? (cert ? DEFAULT_METADATA : { status: 'PENDING' }),
    });
  }
  const all = certs.map((c) => c.x509);
  for (const [id, e] of entries) {
    if (e.certificate) entries.set(id, { ...e, chain: buildChain(e.certificate, all) });
  }
  const chainCertificates = certs.filter((c) => !linkedCerts.has(c.handle.toString('hex'))).map((c) => c.x509);
  return { entries, insecure, chainCertificates, skipped };
}

/** Walks issuer links among the token's certificates (nearest issuer first; stops at a self-signed root or a loop). */
export function buildChain(leaf: X509Certificate, pool: readonly X509Certificate[]): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>([leaf.fingerprint256]);
  let current = leaf;
  while (current.issuer !== current.subject) {
    const issuer = pool.find(
      (c) => !seen.has(c.fingerprint256) && current.checkIssued(c) && certificateSignatureValid(current, c.publicKey),
    );
    if (!issuer) break;
    chain.push(issuer.raw);
    seen.add(issuer.fingerprint256);
    current = issuer;
  }
  return chain;
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
