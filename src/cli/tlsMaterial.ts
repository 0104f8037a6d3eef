import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { pemEncode } from '../crypto/pem';
import { buildCertificate } from '../crypto/x509Builder';

/** A certificate with its software key, as PEM. Demo and test material only: production keys come from a PKI. */
export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly keyPem: string;
  readonly subject: string;
  /** For issuing further certificates (a CA). */
  readonly key: KeyObject;
  readonly spki: Buffer;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function p256(): { key: KeyObject; spki: Buffer; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    key: privateKey,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A self-signed P-256 CA valid for `days` (the private CA of `npm start -- --tls` and of the TLS tests). */
export async function createPrivateCa(subject: string, days = 825): Promise<IssuedCertificate> {
  const k = p256();
  const now = Date.now();
  const der = await buildCertificate({
    subject,
    issuer: subject,
    serialNumber: randomBytes(16),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY_MS),
    subjectPublicKeyInfo: k.spki,
    isCA: true,
    pathLen: 0,
    keyUsage: ['keyCertSign', 'cRLSign'],
    signatureAlgorithm: 'ecdsaWithSHA256',
    signer: async (tbs) => sign('sha256', tbs, { key: k.key, dsaEncoding: 'der' }),
  });
  return { certificatePem: pemEncode('CERTIFICATE', der), keyPem: k.keyPem, subject, key: k.key, spki: k.spki };
}

/**
 * A P-256 leaf certificate issued by `ca`: for a TLS server (`names` are its DNS names and IP addresses) or a
 * TLS client.
 */
export async function issueCertificate(
  ca: IssuedCertificate,
  opts: { subject: string; names?: string[]; usage: 'server' | 'client'; days?: number },
): Promise<IssuedCertificate> {
  const k = p256();
  const now = Date.now();
  const der = await buildCertificate({
    subject: opts.subject,
    issuer: ca.subject,
    serialNumber: randomBytes(16),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.days ?? 397) * DAY_MS),
    subjectPublicKeyInfo: k.spki,
    issuerPublicKeyInfo: ca.spki,
    isCA: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: [opts.usage === 'server' ? SERVER_AUTH : CLIENT_AUTH],
    ...(opts.names && opts.names.length > 0 ? { subjectAltNames: opts.names } : {}),
    signatureAlgorithm: 'ecdsaWithSHA256',
    signer: async (tbs) => sign('sha256', tbs, { key: ca.key, dsaEncoding: 'der' }),
  });
  return {
    certificatePem: pemEncode('CERTIFICATE', der),
    keyPem: k.keyPem,
    subject: opts.subject,
    key: k.key,
    spki: k.spki,
  };
}
