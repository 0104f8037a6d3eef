import { constants, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { kmsSignatureAlgorithm, type SignatureAlgorithm } from '../../../src/crypto/algorithms';
import { verifySignature } from '../../../src/ops/shared/verifying';

/**
 * Verify (CAS) and CertificatePublicKeyVerify (KMS) in software: RAW through node:crypto, DIGEST through
 * src/crypto/digestVerify.ts. Both paths must accept the same signatures: the cloud's (PSS salt 32, ECDSA DER)
 * and, for PSS, any other salt length; and both must reject a changed message or signature without throwing.
 */
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const message = Buffer.from('verify me');
const digest = createHash('sha256').update(message).digest();

function row(name: string): SignatureAlgorithm {
  const alg = kmsSignatureAlgorithm(name);
  if (!alg) throw new Error(name);
  return alg;
}

const cases = [
  ['RSA_PKCS1_SHA_256', rsa.publicKey, sign('sha256', message, rsa.privateKey)],
  [
    'RSA_PSS_SHA_256',
    rsa.publicKey,
    sign('sha256', message, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  ],
  [
    'RSA_PSS_SHA_256',
    rsa.publicKey,
    sign('sha256', message, {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
    }),
  ],
  ['ECDSA_SHA_256', ec.publicKey, sign('sha256', message, ec.privateKey)],
] as const;

describe('verifySignature', () => {
  test.each(cases)('%s verifies over RAW and over DIGEST alike', (name, key, signature) => {
    const alg = row(name);
    expect(verifySignature(key, alg, { kind: 'message', data: message }, signature)).toBe(true);
    expect(verifySignature(key, alg, { kind: 'digest', digest }, signature)).toBe(true);
  });

  test.each(cases)('%s rejects a changed message, digest or signature', (name, key, signature) => {
    const alg = row(name);
    const bad = Buffer.from(signature);
    bad[5] = (bad[5] ?? 0) ^ 0x10;
    const otherDigest = createHash('sha256').update('other').digest();
    expect(verifySignature(key, alg, { kind: 'message', data: Buffer.from('other') }, signature)).toBe(false);
    expect(verifySignature(key, alg, { kind: 'digest', digest: otherDigest }, signature)).toBe(false);
    expect(verifySignature(key, alg, { kind: 'message', data: message }, bad)).toBe(false);
    expect(verifySignature(key, alg, { kind: 'digest', digest }, bad)).toBe(false);
  });

  test('garbage is not valid, and never throws', () => {
    for (const [name, key] of [
      ['RSA_PKCS1_SHA_256', rsa.publicKey],
      ['RSA_PSS_SHA_256', rsa.publicKey],
      ['ECDSA_SHA_256', ec.publicKey],
    ] as const) {
      for (const junk of [Buffer.alloc(0), Buffer.from('junk'), Buffer.alloc(256, 0xff), Buffer.alloc(72, 0x30)]) {
        expect(verifySignature(key, row(name), { kind: 'message', data: message }, junk)).toBe(false);
        expect(verifySignature(key, row(name), { kind: 'digest', digest }, junk)).toBe(false);
      }
    }
  });

  test('an ECDSA signature in raw r‖s form is not valid (the API speaks DER)', () => {
    const raw = sign('sha256', message, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifySignature(ec.publicKey, row('ECDSA_SHA_256'), { kind: 'message', data: message }, raw)).toBe(false);
    expect(verifySignature(ec.publicKey, row('ECDSA_SHA_256'), { kind: 'digest', digest }, raw)).toBe(false);
  });
});
