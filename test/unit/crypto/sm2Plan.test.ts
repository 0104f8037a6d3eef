import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sm2 as smCrypto } from 'sm-crypto';
import { parse } from 'yaml';
import type { ApiError } from '../../../src/errors/apiError';
import { toApiError } from '../../../src/api/lowerFloorErrors';
import { sm2ProfileSchema } from '../../../src/config/schema';
import {
  ENCRYPTION_ALGORITHMS,
  KEY_SPECS,
  kmsSignatureAlgorithm,
  type EncryptionAlgorithm,
  type SignatureAlgorithm,
  type Sm2Profile,
} from '../../../src/crypto/algorithms';
import { buildCsr } from '../../../src/crypto/csrBuilder';
import { ecdsaRawToDer } from '../../../src/crypto/ecdsaSignature';
import { EncodingError } from '../../../src/crypto/encodingError';
import { ecParamsFor, ecSpki } from '../../../src/crypto/keys';
import { pemEncode } from '../../../src/crypto/pem';
import { PlanError } from '../../../src/crypto/planError';
import { encodeSignature, planSignature, tokenSupports } from '../../../src/crypto/signPlan';
import { sm2E, sm2EncryptParts, sm2Verify } from '../../../src/crypto/sm2';
import { decodeSm2Ciphertext } from '../../../src/crypto/sm2Ciphertext';
import { keyGenerationMechanism, planSm2Decryption } from '../../../src/crypto/sm2Plan';
import { buildCertificate } from '../../../src/crypto/x509Builder';
import { certificateSignatureValid } from '../../../src/crypto/x509Signature';
import { X509Certificate } from 'node:crypto';
import { opensslDir } from './support/openssl';

/**
 * What the caller sees when a planner refuses: the crypto floor throws its own PlanError, and the one translator
 * (src/api/lowerFloorErrors.ts toApiError) names the cloud code. Fails the test when the planner does not refuse.
 */
function refusal(plan: () => unknown): ApiError {
  try {
    plan();
  } catch (e) {
    expect(e).toBeInstanceOf(PlanError);
    return toApiError(e);
  }
  throw new Error('the planner did not refuse');
}

/** The TASS sample profile, read from the documented file (the numbers the test token implements). */
const TASS: Sm2Profile = sm2ProfileSchema.parse(
  (
    parse(readFileSync(resolve(__dirname, '../../../docs/hsm/sm2-tass.yaml'), 'utf8')) as {
      tokens: Array<{ sm2: unknown }>;
    }
  ).tokens[0]?.sm2,
);
const ALL = new Set(Object.values(TASS.mechanisms));
const SM2DSA = kmsSignatureAlgorithm('SM2DSA') as SignatureAlgorithm;
const SM2PKE = ENCRYPTION_ALGORITHMS.find((a) => a.name === 'SM2PKE') as EncryptionAlgorithm;
const keys = smCrypto.generateKeyPairHex();
const point = Buffer.from(keys.publicKey, 'hex');
const ctx = { profile: TASS, publicPoint: point };
const message = Buffer.from('plan me');

describe('planSignature for SM2 (the profile maps the row’s roles to vendor numbers)', () => {
  it('RAW: the token signs e = SM3(Z_A ‖ M), computed here with the profile’s user ID', () => {
    const plan = planSignature(SM2DSA, { kind: 'message', data: message }, ALL, ctx);
    expect(plan.mechanism).toEqual({ mechanism: 0x80008000 });
    expect(plan.data.equals(sm2E(point, message))).toBe(true);
  });

  it('DIGEST: the value is e already and is passed as is; a wrong length is InvalidParameter', () => {
    const e = sm2E(point, message);
    expect(planSignature(SM2DSA, { kind: 'digest', digest: e }, ALL, ctx).data.equals(e)).toBe(true);
    expect(refusal(() => planSignature(SM2DSA, { kind: 'digest', digest: Buffer.alloc(31) }, ALL, ctx))).toMatchObject({
      code: 'InvalidParameter',
      cause: expect.any(PlanError),
    });
  });

  it('a per-signature user ID (X.509 uses the default) wins over the profile’s', () => {
    const alice = { profile: { ...TASS, userId: 'alice' }, publicPoint: point };
    expect(
      planSignature(SM2DSA, { kind: 'message', data: message }, ALL, alice).data.equals(sm2E(point, message, 'alice')),
    ).toBe(true);
    const x509 = planSignature(SM2DSA, { kind: 'message', data: message, sm2UserId: '1234567812345678' }, ALL, alice);
    expect(x509.data.equals(sm2E(point, message))).toBe(true);
  });

  it('without the e mechanism, RAW goes to the combined SM3-with-SM2 mechanism with the message; DIGEST cannot', () => {
    const listed = new Set([0x80008001, 0x80008100]);
    expect(planSignature(SM2DSA, { kind: 'message', data: message }, listed, ctx)).toEqual({
      mechanism: { mechanism: 0x80008100 },
      data: message,
    });
    expect(
      refusal(() => planSignature(SM2DSA, { kind: 'digest', digest: Buffer.alloc(32) }, listed, ctx)),
    ).toMatchObject({ code: 'UnsupportedOperation', cause: expect.any(PlanError) });
    // The token computes Z_A with its default ID: a configured other ID cannot be honoured.
    const alice = { profile: { ...TASS, userId: 'alice' }, publicPoint: point };
    expect(refusal(() => planSignature(SM2DSA, { kind: 'message', data: message }, listed, alice))).toMatchObject({
      code: 'UnsupportedOperation',
      cause: expect.any(PlanError),
    });
  });

  it('a sign mechanism that takes the message (signInput: message) is used like the combined one', () => {
    const profile: Sm2Profile = { ...TASS, signInput: 'message', mechanisms: { keyPairGen: 1, sign: 0x80008000 } };
    expect(planSignature(SM2DSA, { kind: 'message', data: message }, ALL, { profile, publicPoint: point })).toEqual({
      mechanism: { mechanism: 0x80008000 },
      data: message,
    });
  });

  it('without an SM2 profile, or with none of its signing numbers listed, SM2 is UnsupportedOperation', () => {
    expect(refusal(() => planSignature(SM2DSA, { kind: 'message', data: message }, ALL))).toMatchObject({
      code: 'UnsupportedOperation',
      cause: expect.any(PlanError),
    });
    expect(
      refusal(() => planSignature(SM2DSA, { kind: 'message', data: message }, new Set([0x80008001]), ctx)),
    ).toMatchObject({ code: 'UnsupportedOperation', cause: expect.any(PlanError) });
    expect(tokenSupports(SM2DSA, ALL)).toBe(false);
    expect(tokenSupports(SM2DSA, ALL, TASS)).toBe(true);
    expect(tokenSupports(SM2DSA, new Set([0x80008001]), TASS)).toBe(false);
  });
});

describe('encodeSignature for SM2: always DER SEQUENCE { r, s }', () => {
  const r = Buffer.alloc(32, 0x81);
  const s = Buffer.concat([Buffer.alloc(1), Buffer.alloc(31, 0x22)]);

  it('turns a raw r‖s into DER (a 0x00 before a high bit, leading zeros dropped)', () => {
    const der = encodeSignature(SM2DSA, Buffer.concat([r, s]), 'raw');
    expect(der.toString('hex')).toBe(`3044022100${r.toString('hex')}021f${'22'.repeat(31)}`);
  });

  it('passes a DER answer through canonically, and refuses one that is not strict DER', () => {
    const der = ecdsaRawToDer(Buffer.concat([r, s]));
    expect(encodeSignature(SM2DSA, der, 'der').equals(der)).toBe(true);
    expect(() => encodeSignature(SM2DSA, Buffer.concat([der, Buffer.alloc(1)]), 'der')).toThrow(EncodingError);
    expect(() => encodeSignature(SM2DSA, Buffer.concat([r, s]), 'der')).toThrow(EncodingError);
  });
});

describe('the other vendor plans', () => {
  it('decryption: the profile’s encrypt number, the ciphertext in the token’s format', () => {
    const parts = sm2EncryptParts(point, Buffer.from('secret'));
    const plan = planSm2Decryption(SM2PKE, { ...TASS, ciphertextFormat: 'c1c3c2' }, parts);
    expect(plan.mechanism).toEqual({ mechanism: 0x80008200 });
    expect(decodeSm2Ciphertext(plan.data, 'c1c3c2').c2.equals(parts.c2)).toBe(true);
    const noEncrypt: Sm2Profile = { ...TASS, mechanisms: { keyPairGen: 1, sign: 2 } };
    expect(refusal(() => planSm2Decryption(SM2PKE, noEncrypt, parts))).toMatchObject({
      code: 'UnsupportedOperation',
      cause: expect.any(PlanError),
    });
    expect(refusal(() => planSm2Decryption(SM2PKE, undefined, parts))).toMatchObject({
      code: 'UnsupportedOperation',
      cause: expect.any(PlanError),
    });
  });

  it('key generation: the standard mechanism for RSA and EC rows, the profile’s for EC_SM2 (none without one)', () => {
    const row = (spec: string) => KEY_SPECS.find((k) => k.spec === spec)!;
    expect(keyGenerationMechanism(row('EC_SM2'), TASS)).toBe(0x80008001);
    expect(keyGenerationMechanism(row('EC_SM2'), undefined)).toBeUndefined();
    expect(keyGenerationMechanism(row('EC_P256'), TASS)).toBe(0x1040); // CKM_EC_KEY_PAIR_GEN
  });
});

describe('X.509 and PKCS#10 with SM2-with-SM3 (GM/T 0015: the default user ID)', () => {
  const spki = ecSpki(ecParamsFor('SM2'), point);
  /** A software SM2 signer over the DER to be signed (sm-crypto, default ID), as a token would answer. */
  const signer = async (tbs: Buffer): Promise<Buffer> =>
    Buffer.from(
      smCrypto.doSignature([...tbs], keys.privateKey, { der: true, hash: true, publicKey: keys.publicKey }),
      'hex',
    );

  it('builds certificates that openssl verifies with distid 1234567812345678 (and not without); node:crypto cannot', async () => {
    const validity = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) };
    const caDer = await buildCertificate({
      subject: 'CN=SM2 unit CA,C=CN',
      issuer: 'CN=SM2 unit CA,C=CN',
      serialNumber: Buffer.from([1]),
      ...validity,
      subjectPublicKeyInfo: spki,
      isCA: true,
      keyUsage: ['keyCertSign', 'digitalSignature'],
      signatureAlgorithm: 'sm2WithSM3',
      signer,
    });
    const leafKeys = smCrypto.generateKeyPairHex();
    const leafDer = await buildCertificate({
      subject: 'CN=SM2 unit leaf,C=CN',
      issuer: 'CN=SM2 unit CA,C=CN',
      serialNumber: Buffer.from([2]),
      ...validity,
      subjectPublicKeyInfo: ecSpki(ecParamsFor('SM2'), Buffer.from(leafKeys.publicKey, 'hex')),
      issuerPublicKeyInfo: spki,
      isCA: false,
      keyUsage: ['digitalSignature'],
      signatureAlgorithm: 'sm2WithSM3',
      signer,
    });
    const ca = new X509Certificate(caDer);
    const leaf = new X509Certificate(leafDer);
    expect(certificateSignatureValid(ca, ca.publicKey)).toBe(true);
    expect(certificateSignatureValid(leaf, ca.publicKey)).toBe(true);
    expect(certificateSignatureValid(leaf, leaf.publicKey)).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(false); // node:crypto: OpenSSL's default distinguishing ID, not GM/T 0015's
    const dir = opensslDir();
    try {
      dir.write('ca.pem', pemEncode('CERTIFICATE', caDer));
      dir.write('leaf.pem', pemEncode('CERTIFICATE', leafDer));
      expect(dir.run(['x509', '-in', 'leaf.pem', '-noout', '-text']).stdout).toContain('SM2-with-SM3');
      const ok = dir.run(['verify', '-vfyopt', 'distid:1234567812345678', '-CAfile', 'ca.pem', 'leaf.pem']);
      expect(ok.stdout).toContain('leaf.pem: OK');
      expect(dir.run(['verify', '-CAfile', 'ca.pem', 'leaf.pem']).status).not.toBe(0);
    } finally {
      dir.remove();
    }
  });

  it('builds a CSR that openssl req -verify accepts with distid 1234567812345678', async () => {
    const der = await buildCsr({
      subject: 'CN=sm2.example.com,C=CN',
      subjectPublicKeyInfo: spki,
      signatureAlgorithm: 'sm2WithSM3',
      signer,
    });
    const dir = opensslDir();
    try {
      dir.write('r.pem', pemEncode('CERTIFICATE REQUEST', der));
      const r = dir.run(['req', '-in', 'r.pem', '-verify', '-noout', '-vfyopt', 'distid:1234567812345678']);
      expect(`${r.stdout}${r.stderr}`).toMatch(/verify OK/);
    } finally {
      dir.remove();
    }
  });

  it('refuses a signer whose signature does not verify (another user ID), before anything is emitted', async () => {
    const alice = async (tbs: Buffer): Promise<Buffer> =>
      Buffer.from(smCrypto.doSignature([...tbs], keys.privateKey, { der: true, hash: true, userId: 'alice' }), 'hex');
    await expect(
      buildCsr({ subject: 'CN=x', subjectPublicKeyInfo: spki, signatureAlgorithm: 'sm2WithSM3', signer: alice }),
    ).rejects.toThrow(EncodingError);
    expect(sm2Verify(point, message, await signer(message))).toBe(true);
  });
});
