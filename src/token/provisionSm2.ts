import { randomBytes, randomUUID } from 'node:crypto';
import { keySpecRow } from '../crypto/algorithms';
import { buildCertificate } from '../crypto/x509Builder';
import { generateKeyPair } from './objects';
import {
  randomSerial,
  storeActiveIdentity,
  tokenSigner,
  type ProvisionedIdentity,
  x509AlgorithmFor,
} from './provision';
import type { TokenManager } from './tokenManager';

/** What `provisionSm2Pair` made: the CA and the leaf it issued, and the CA certificate (DER). */
export interface ProvisionedSm2Pair {
  readonly ca: ProvisionedIdentity;
  readonly leaf: ProvisionedIdentity;
  readonly caDer: Buffer;
}

/**
 * Provisions an SM2 CA (self-signed, SM2-with-SM3) and an SM2 leaf that signs and decrypts (SM2PKE), issued by that
 * CA, all generated and signed inside the token through its SM2 HSM profile: the private keys never leave it.
 * Used by `npm start -- --sm2` (the SM2 test token of the demo) and by the SM2 test suites.
 */
export async function provisionSm2Pair(
  token: TokenManager,
  opts: { now?: Date; caSubject?: string; leafSubject?: string } = {},
): Promise<ProvisionedSm2Pair> {
  const row = keySpecRow('EC_SM2');
  if (!row) throw new Error('EC_SM2 row missing');
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + 365 * 86400_000);
  const caSubject = opts.caSubject ?? 'CN=p11bridge SM2 CA,O=p11bridge,C=CN';
  const ca = randomUUID();
  const caCkaId = randomBytes(16);
  const caKey = await generateKeyPair(token, row, ca, caCkaId, 'sign');
  // The CA key signs its own certificate below: the index must know it first.
  await token.refreshIndex();
  const caDer = await buildCertificate({
    subject: caSubject,
    issuer: caSubject,
    serialNumber: randomSerial(),
    notBefore,
    notAfter,
    subjectPublicKeyInfo: caKey.spki,
    issuerPublicKeyInfo: caKey.spki,
    isCA: true,
    pathLen: 0,
    keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
    signatureAlgorithm: x509AlgorithmFor('SM2'),
    signer: tokenSigner(token, ca, 'SM2'),
  });
  await storeActiveIdentity(token, ca, caCkaId, caDer, 'EC_SM2', now);
  const leaf = randomUUID();
  const leafCkaId = randomBytes(16);
  const leafKey = await generateKeyPair(token, row, leaf, leafCkaId, 'sign+decrypt');
  const leafDer = await buildCertificate({
    subject: opts.leafSubject ?? 'CN=p11bridge SM2 leaf,O=p11bridge,C=CN',
    issuer: caSubject,
    serialNumber: randomSerial(),
    notBefore,
    notAfter,
    subjectPublicKeyInfo: leafKey.spki,
    issuerPublicKeyInfo: caKey.spki,
    isCA: false,
    keyUsage: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'],
    signatureAlgorithm: x509AlgorithmFor('SM2'),
    signer: tokenSigner(token, ca, 'SM2'),
  });
  await storeActiveIdentity(token, leaf, leafCkaId, leafDer, 'EC_SM2', now);
  await token.refreshIndex();
  return { ca: { id: ca, keySpec: 'EC_SM2' }, leaf: { id: leaf, keySpec: 'EC_SM2' }, caDer };
}
