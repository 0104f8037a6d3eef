/**
 * Issuing certificates with keys on the token: the CA signs through PKCS#11 (the private key never leaves it), and an
 * issued certificate is stored with its lifecycle metadata. Used by demo provisioning (src/identities/
 * demoProvisioning.ts) and KMS CreateCertificate's CSR.
 */
import { randomBytes } from 'node:crypto';
import { certificateSigningAlgorithm, type KeySpec } from '../crypto/algorithms';
import { SM2_DEFAULT_USER_ID } from '../crypto/sm2';
import type { SignatureAlgorithmName } from '../crypto/x509Builder';
import { storeCertificate, storeMetadata } from './objects';
import type { KeyUsage } from './keyTemplates';
import type { TokenManager } from './tokenManager';

/**
 * Stores an issued certificate for a key pair and its lifecycle metadata (ACTIVE): every identity on the token has
 * exactly one metadata object, or the index refuses it (fail closed). `usage` records what the key was made for: the
 * API enforces it even where the token allows more (src/token/keyTemplates.ts).
 */
export async function storeActiveIdentity(
  token: TokenManager,
  id: string,
  ckaId: Buffer,
  der: Buffer,
  keySpec: KeySpec,
  now: Date = new Date(),
  usage?: KeyUsage,
): Promise<void> {
  await storeCertificate(token, id, ckaId, der);
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  await storeMetadata(token, id, {
    status: 'ACTIVE',
    keySpec,
    createdAt: at,
    updatedAt: at,
    ...(usage ? { usage } : {}),
  });
}

/** The X.509 signature algorithm a CA key of this type writes into certificates. */
export function x509AlgorithmFor(keyType: 'RSA' | 'EC' | 'SM2'): SignatureAlgorithmName {
  if (keyType === 'RSA') return 'sha256WithRSAEncryption';
  if (keyType === 'EC') return 'ecdsaWithSHA256';
  return 'sm2WithSM3';
}

/**
 * Signs a to-be-signed blob with a key on the token, as X.509 and PKCS#10 want it
 * (RSA PKCS#1 v1.5 SHA-256, ECDSA SHA-256 DER, or SM2-with-SM3 DER): the private key never leaves the token.
 * SM2 signs with the default distinguishing ID, as X.509 requires (GM/T 0015-2012), whatever the API's is.
 */
export function tokenSigner(token: TokenManager, id: string, keyType: 'RSA' | 'EC' | 'SM2') {
  const alg = certificateSigningAlgorithm(keyType);
  const sm2 = keyType === 'SM2' ? { sm2UserId: SM2_DEFAULT_USER_ID } : {};
  return (tbs: Buffer): Promise<Buffer> => token.sign(id, alg, { kind: 'message', data: tbs, ...sm2 });
}

/** A positive 16-byte serial number (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b;
}
