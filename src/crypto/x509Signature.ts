import { constants, verify } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { id_ecdsaWithSHA256, id_ecdsaWithSHA384 } from '@peculiar/asn1-ecc';
import { id_sha256WithRSAEncryption } from '@peculiar/asn1-rsa';
import { EncodingError } from './encodingError';
import { publicKeyFromSpki } from './keys';

/**
 * Signature algorithms for the certificates and CSRs we build, and the self-check every signature from
 * a signer callback passes before it is emitted. Not to be confused with `algorithms.ts`, the table of
 * API signing algorithms and their PKCS#11 mechanisms.
 */

/** The `signatureAlgorithm` of a certificate or CSR (RFC 4055 §5, RFC 5758 §3.2). */
export type SignatureAlgorithmName = 'sha256WithRSAEncryption' | 'ecdsaWithSHA256' | 'ecdsaWithSHA384';

/**
 * Signs the DER `tbs` bytes and returns the signature exactly as X.509 carries it: RSASSA-PKCS1-v1_5 bytes
 * for RSA, DER `SEQUENCE { r, s }` for ECDSA (run a token's raw `r ‖ s` through `ecdsaRawToDer`).
 * The signer hashes: `tbs` is the message, not a digest.
 */
export type DerSigner = (tbs: Buffer) => Promise<Buffer>;

const ALGORITHMS: Readonly<
  Record<SignatureAlgorithmName, { oid: string; hash: 'sha256' | 'sha384'; keyType: 'rsa' | 'ec' }>
> = {
  sha256WithRSAEncryption: { oid: id_sha256WithRSAEncryption, hash: 'sha256', keyType: 'rsa' },
  ecdsaWithSHA256: { oid: id_ecdsaWithSHA256, hash: 'sha256', keyType: 'ec' },
  ecdsaWithSHA384: { oid: id_ecdsaWithSHA384, hash: 'sha384', keyType: 'ec' },
};

/**
 * The AlgorithmIdentifier for `name`: NULL parameters for RSA (RFC 4055 §5 "MUST be NULL"), absent
 * parameters for ECDSA (RFC 5758 §3.2 "MUST omit"). A fresh object each call, never a shared constant.
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
