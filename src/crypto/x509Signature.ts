import { constants, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { id_ecdsaWithSHA256, id_ecdsaWithSHA384 } from '@peculiar/asn1-ecc';
import { id_sha256WithRSAEncryption } from '@peculiar/asn1-rsa';
import { readTlv } from './der';
import { EncodingError } from './encodingError';
import { publicKeyFromSpki } from './keys';
import { SM2_DEFAULT_USER_ID, sm2PublicPointOfSpki, sm2Verify } from './sm2';

/**
 * Signature algorithms for the certificates and CSRs we build, and the self-check every signature from
 * a signer callback passes before it is emitted. Not to be confused with `algorithms.ts`, the table of
 * API signing algorithms and their PKCS#11 mechanisms.
 */

/** The `signatureAlgorithm` of a certificate or CSR (RFC 4055 §5, RFC 5758 §3.2, GM/T 0015-2012 for SM2). */
export type SignatureAlgorithmName = 'sha256WithRSAEncryption' | 'ecdsaWithSHA256' | 'ecdsaWithSHA384' | 'sm2WithSM3';

/** SM2-with-SM3 (GM/T 0006-2012), as OpenSSL and the Chinese CAs write it. */
const id_sm2WithSM3 = '1.2.156.10197.1.501';

/**
 * Signs the DER `tbs` bytes and returns the signature exactly as X.509 carries it: RSASSA-PKCS1-v1_5 bytes
 * for RSA, DER `SEQUENCE { r, s }` for ECDSA (run a token's raw `r ‖ s` through `ecdsaRawToDer`).
 * The signer hashes: `tbs` is the message, not a digest.
 */
export type DerSigner = (tbs: Buffer) => Promise<Buffer>;

const ALGORITHMS: Readonly<
  Record<SignatureAlgorithmName, { oid: string; hash: 'sha256' | 'sha384' | 'sm3'; keyType: 'rsa' | 'ec' | 'sm2' }>
> = {
  sha256WithRSAEncryption: { oid: id_sha256WithRSAEncryption, hash: 'sha256', keyType: 'rsa' },
  ecdsaWithSHA256: { oid: id_ecdsaWithSHA256, hash: 'sha256', keyType: 'ec' },
  ecdsaWithSHA384: { oid: id_ecdsaWithSHA384, hash: 'sha384', keyType: 'ec' },
  sm2WithSM3: { oid: id_sm2WithSM3, hash: 'sm3', keyType: 'sm2' },
};

/**
 * The AlgorithmIdentifier for `name`: NULL parameters for RSA (RFC 4055 §5 "MUST be NULL"), absent
 * parameters for ECDSA (RFC 5758 §3.2 "MUST omit") and for SM2-with-SM3 (as OpenSSL writes it).
 * A fresh object each call, never a shared constant.
 */
export function signatureAlgorithmIdentifier(name: SignatureAlgorithmName): AlgorithmIdentifier {
  const { oid, keyType } = ALGORITHMS[name];
  return keyType === 'rsa'
    ? new AlgorithmIdentifier({ algorithm: oid, parameters: null })
    : new AlgorithmIdentifier({ algorithm: oid });
}

/**
 * Throws `EncodingError` unless `signature` is a valid `name` signature of `data` under the key in
 * `spki`. Catches a signer that used the wrong key or mechanism, or returned raw `r ‖ s` for ECDSA,
 * before a certificate or CMS that no verifier would accept leaves the daemon.
 */
export function assertSignatureValid(
  name: SignatureAlgorithmName,
  spki: Buffer,
  data: Buffer,
  signature: Buffer,
  what: string,
): void {
  const { hash, keyType } = ALGORITHMS[name];
  if (keyType === 'sm2') {
    // node:crypto cannot set the SM2 distinguishing ID; X.509 SM2 signatures use the default (GM/T 0015-2012).
    let point: Buffer;
    try {
      point = sm2PublicPointOfSpki(spki);
    } catch (cause) {
      throw new EncodingError(`${what}: ${name} needs an SM2 key`, { cause });
    }
    if (!sm2Verify(point, data, signature, SM2_DEFAULT_USER_ID)) {
      throw new EncodingError(`${what}: the signer's ${name} signature does not verify with the expected key`);
    }
    return;
  }
  const key = publicKeyFromSpki(spki);
  if (key.asymmetricKeyType !== keyType) {
    throw new EncodingError(`${what}: ${name} needs an ${keyType.toUpperCase()} key`);
  }
  const valid =
    keyType === 'rsa'
      ? verify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature)
      : verify(hash, data, { key, dsaEncoding: 'der' }, signature);
  if (!valid) throw new EncodingError(`${what}: the signer's ${name} signature does not verify with the expected key`);
}

/** Calls the signer and checks its answer (see `assertSignatureValid`). */
export async function signAndCheck(
  name: SignatureAlgorithmName,
  signer: DerSigner,
  verifyingSpki: Buffer,
  tbs: Buffer,
  what: string,
): Promise<Buffer> {
  const signature = await signer(tbs);
  if (!Buffer.isBuffer(signature) || signature.length === 0) {
    throw new EncodingError(`${what}: the signer returned no signature`);
  }
  assertSignatureValid(name, verifyingSpki, tbs, signature, what);
  return signature;
}

/** DER of the sm2WithSM3 OID, to recognise it in a certificate's signatureAlgorithm without a full parse. */
const SM2_WITH_SM3_OID_DER = Buffer.from('06082a811ccf55018375', 'hex');

/**
 * Whether `cert` carries a valid signature by `issuerKey` (for chain building). node:crypto's
 * `X509Certificate.verify` checks SM2-with-SM3 with OpenSSL's default distinguishing ID, which is not
 * 1234567812345678 (protocol §9.5), so SM2 certificates are checked here with the GM/T 0015 default instead.
 */
export function certificateSignatureValid(cert: X509Certificate, issuerKey: KeyObject): boolean {
  const der = cert.raw;
  try {
    const outer = readTlv(der, 0);
    const tbs = readTlv(der, outer.contentStart);
    const algorithm = readTlv(der, tbs.end);
    const oid = readTlv(der, algorithm.contentStart);
    if (!der.subarray(algorithm.contentStart, oid.end).equals(SM2_WITH_SM3_OID_DER)) return cert.verify(issuerKey);
    const bits = readTlv(der, algorithm.end);
    if (bits.tag !== 0x03 || der[bits.contentStart] !== 0) return false;
    return sm2Verify(
      sm2PublicPointOfSpki(issuerKey.export({ type: 'spki', format: 'der' })),
      der.subarray(outer.contentStart, tbs.end),
      der.subarray(bits.contentStart + 1, bits.end),
      SM2_DEFAULT_USER_ID,
    );
  } catch {
    return false;
  }
}
