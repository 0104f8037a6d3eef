import { EncodingError } from './encodingError';

/** Hashes whose DigestInfo the token may be asked to sign with CKM_RSA_PKCS. */
export type DigestInfoHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * DER prefixes of `DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier (with NULL), digest
 * OCTET STRING }`, copied from RFC 8017 §9.2 note 1; the digest octets follow directly.
 */
const PREFIXES: Readonly<Record<DigestInfoHash, { prefix: Buffer; digestLength: number }>> = {
  sha1: { prefix: Buffer.from('3021300906052b0e03021a05000414', 'hex'), digestLength: 20 },
  sha256: { prefix: Buffer.from('3031300d060960864801650304020105000420', 'hex'), digestLength: 32 },
  sha384: { prefix: Buffer.from('3041300d060960864801650304020205000430', 'hex'), digestLength: 48 },
  sha512: { prefix: Buffer.from('3051300d060960864801650304020305000440', 'hex'), digestLength: 64 },
};

/**
 * The DER `DigestInfo` for a precomputed digest: what `CKM_RSA_PKCS` must sign to produce an
 * RSASSA-PKCS1-v1_5 signature when the message was hashed outside the token (`MessageType=DIGEST`,
 * protocol §9.5). Throws `EncodingError` if the digest length does not match the hash.
 */
export function digestInfo(hash: DigestInfoHash, digest: Buffer): Buffer {
  const entry = PREFIXES[hash];
  if (digest.length !== entry.digestLength) {
    throw new EncodingError(`DigestInfo: a ${hash} digest is ${entry.digestLength} bytes, got ${digest.length}`);
  }
  return Buffer.concat([entry.prefix, digest]);
}
