import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ecdsaRawToDer } from '../../../../src/crypto/ecdsaSignature';
import type { DerSigner } from '../../../../src/crypto/x509Signature';

/**
 * Software keys standing in for token keys in unit tests. The ECDSA signer deliberately goes through
 * `ieee-p1363` (raw r ‖ s, what CKM_ECDSA returns) and `ecdsaRawToDer`, like the token path does.
 */

/** A key pair held by node:crypto, with its public half as SPKI DER like the token layer supplies. */
export interface SoftwareKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
}

/** The key types the crypto tests exercise. */
export type SoftwareKeyKind = 'RSA-2048' | 'P-256' | 'P-384';

/** A fresh key pair of the given kind. */
export function generateKey(kind: SoftwareKeyKind): SoftwareKey {
  const { privateKey, publicKey } =
    kind === 'RSA-2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: kind });
  return { privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

/** RSASSA-PKCS1-v1_5 with SHA-256 over the message, as CKM_SHA256_RSA_PKCS would sign. */
export function rsaSigner(key: SoftwareKey): DerSigner {
  return async (data) => sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING });
}

/** ECDSA over the message: raw r ‖ s from the "token", DER-encoded by the code under test. */
function ecdsaSigner(key: SoftwareKey, hash: 'sha256' | 'sha384'): DerSigner {
  return async (data) => ecdsaRawToDer(sign(hash, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** The signer and signature algorithm that fit a key kind (SHA-384 for P-384, as RFC 5480 §4 advises). */
export function signerFor(kind: SoftwareKeyKind, key: SoftwareKey) {
  switch (kind) {
    case 'RSA-2048':
      return { signatureAlgorithm: 'sha256WithRSAEncryption', signer: rsaSigner(key) } as const;
    case 'P-256':
      return { signatureAlgorithm: 'ecdsaWithSHA256', signer: ecdsaSigner(key, 'sha256') } as const;
    case 'P-384':
      return { signatureAlgorithm: 'ecdsaWithSHA384', signer: ecdsaSigner(key, 'sha384') } as const;
  }
}
