import { randomBytes, randomUUID } from 'node:crypto';
import { certificateSigningAlgorithm, keySpecRow, type KeySpec } from '../crypto/algorithms';
import { SM2_DEFAULT_USER_ID } from '../crypto/sm2';
import { buildCertificate, type SignatureAlgorithmName } from '../crypto/x509Builder';
import { generateKeyPair, storeCertificate, storeMetadata } from './objects';
import type { TokenManager } from './tokenManager';

/** The key set of a demo token: a CA and one signing key per spec, each with a certificate from the CA. */
export const DEMO_SIGNING_SPECS: readonly KeySpec[] = ['RSA_2048', 'EC_P256'];

export interface ProvisionedIdentity {
  readonly id: string;
  readonly keySpec: KeySpec;
}

/**
 * Stores an issued certificate for a key pair and its lifecycle metadata (ACTIVE): every identity on the token has
 * exactly one metadata object, or the index refuses it (fail closed).
 */
export async function storeActiveIdentity(
  token: TokenManager,
  id: string,
  ckaId: Buffer,
  der: Buffer,
  keySpec: KeySpec,
  now: Date = new Date(),
): Promise<void> {
  await storeCertificate(token, id, ckaId, der);
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  await storeMetadata(token, id, { status: 'ACTIVE', keySpec, createdAt: at, updatedAt: at });
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

/**
 * Provisions the demo key set inside the token: an EC P-256 CA key with a self-signed CA certificate, and
 * RSA-2048 and EC P-256 signing keys with certificates issued by that CA (the CA signs through PKCS#11).
 * Identifiers are UUIDs, as KMS certificate ids are, unless `ids` gives them (CA, then one per DEMO_SIGNING_SPECS).
 */
export async function provisionDemo(
  token: TokenManager,
  opts: { now?: Date; organization?: string; ids?: { ca: string; leaves: readonly string[] } } = {},
): Promise<{ ca: ProvisionedIdentity; leaves: ProvisionedIdentity[] }> {
  const now = opts.now ?? new Date();
  const org = opts.organization ?? 'p11bridge demo';
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const caSpec = keySpecRow('EC_P256');
  if (!caSpec) throw new Error('EC_P256 row missing');
  const caId = opts.ids?.ca ?? randomUUID();
  const caCkaId = randomBytes(16);
  const caKey = await generateKeyPair(token, caSpec, caId, caCkaId, 'sign');
  await token.refreshIndex();
  const caSubject = `CN=${org} CA,O=${org},C=CN`;
  const caDer = await buildCertificate({
    subject: caSubject,
    issuer: caSubject,
    serialNumber: randomSerial(),
    notBefore,
    notAfter: addYears(now, 10),
    subjectPublicKeyInfo: caKey.spki,
    issuerPublicKeyInfo: caKey.spki,
    isCA: true,
    pathLen: 0,
    keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
    signatureAlgorithm: x509AlgorithmFor('EC'),
    signer: tokenSigner(token, caId, 'EC'),
  });
  await storeActiveIdentity(token, caId, caCkaId, caDer, 'EC_P256', now);

  const leaves: ProvisionedIdentity[] = [];
  for (const [i, keySpec] of DEMO_SIGNING_SPECS.entries()) {
    const spec = keySpecRow(keySpec);
    if (!spec) throw new Error(`${keySpec} row missing`);
    // Given ids re-create the same identifiers (a token re-initialised underneath a running daemon).
    const id = opts.ids?.leaves[i] ?? randomUUID();
    const ckaId = randomBytes(16);
    const key = await generateKeyPair(token, spec, id, ckaId, 'sign');
    const der = await buildCertificate({
      subject: `CN=${org} ${keySpec},O=${org},C=CN`,
      issuer: caSubject,
      serialNumber: randomSerial(),
      notBefore,
      notAfter: addYears(now, 2),
      subjectPublicKeyInfo: key.spki,
      issuerPublicKeyInfo: caKey.spki,
      isCA: false,
      keyUsage: ['digitalSignature', 'nonRepudiation'],
      signatureAlgorithm: x509AlgorithmFor('EC'),
      signer: tokenSigner(token, caId, 'EC'),
    });
    await storeActiveIdentity(token, id, ckaId, der, keySpec, now);
    leaves.push({ id, keySpec });
  }
  await token.refreshIndex();
  return { ca: { id: caId, keySpec: 'EC_P256' }, leaves };
}

/** A positive 16-byte serial number (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b;
}

function addYears(d: Date, years: number): Date {
  const r = new Date(d);
  r.setUTCFullYear(r.getUTCFullYear() + years);
  return r;
}
