/**
 * CAS `Sign` with `MessageType=BLIND` (RSA blind signing) end to end: the client blinds an EMSA-PSS encoded message
 * with the certificate's public key (RFC 9474 §4.2, written out here independently of src/), the daemon signs it
 * through `@alicloud/cas20200407` with the token's raw RSA operation, the client unblinds, and node:crypto and
 * `openssl` verify the result as an ordinary RSASSA-PSS (SHA-256, salt 32) signature.
 */
import CasClient, { SignRequest } from '@alicloud/cas20200407';
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { keySpecRow } from '../../src/crypto/algorithms';
import { buildCertificate } from '../../src/crypto/x509Builder';
import { generateKeyPair } from '../../src/token/objects';
import { randomSerial, storeActiveIdentity, tokenSigner } from '../../src/token/issuing';
import type { TokenManager } from '../../src/token/tokenManager';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { cas3 } from '../helpers/clients';
import { expectCloudError } from '../helpers/sdkErrors';
import { nodeVerify, opensslVerifyData, Scratch } from '../helpers/verify';

const big = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);
const bytes = (x: bigint, k: number): Buffer => Buffer.from(x.toString(16).padStart(k * 2, '0'), 'hex');

function modPow(b: bigint, e: bigint, n: bigint): bigint {
  let r = 1n;
  for (b %= n; e > 0n; e >>= 1n, b = (b * b) % n) if (e & 1n) r = (r * b) % n;
  return r;
}

function modInverse(a: bigint, n: bigint): bigint {
  let [t, newT, r, newR] = [0n, 1n, n, a % n];
  while (newR !== 0n) {
    const q = r / newR;
    [t, newT] = [newT, t - q * newT];
    [r, newR] = [newR, r - q * newR];
  }
  if (r !== 1n) throw new Error('not invertible');
  return t < 0n ? t + n : t;
}

function mgf1(seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < length; i++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(i);
    out.push(createHash('sha256').update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-256, MGF1-SHA-256 and a 32-byte salt. */
function emsaPssEncode(message: Buffer, emBits: number): Buffer {
  const emLen = Math.ceil(emBits / 8);
  const mHash = createHash('sha256').update(message).digest();
  const salt = randomBytes(32);
  const h = createHash('sha256')
    .update(Buffer.concat([Buffer.alloc(8), mHash, salt]))
    .digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 32 - 32 - 2), Buffer.from([1]), salt]);
  const masked = mgf1(h, db.length).map((m, i) => m ^ (db[i] ?? 0));
  masked[0] = (masked[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([Buffer.from(masked), h, Buffer.from([0xbc])]);
}

/** The certificate's RSA public numbers, read by node:crypto. */
function publicNumbers(pem: string): { n: bigint; e: bigint; k: number; bits: number } {
  const jwk = new X509Certificate(pem).publicKey.export({ format: 'jwk' });
  const n = Buffer.from(String(jwk.n), 'base64url');
  const nn = big(n);
  return { n: nn, e: big(Buffer.from(String(jwk.e), 'base64url')), k: n.length, bits: nn.toString(2).length };
}

/** An RSA-2048 identity generated in the token, with a self-signed certificate the token signs. */
async function addRsaIdentity(tm: TokenManager, id: string, usage: 'sign' | 'sign+decrypt'): Promise<void> {
  const row = keySpecRow('RSA_2048');
  if (!row) throw new Error('RSA_2048 row missing');
  const ckaId = randomBytes(16);
  const key = await generateKeyPair(tm, row, id, ckaId, usage);
  await tm.refreshIndex();
  const subject = `CN=blind ${usage === 'sign' ? 'sign only' : 'sign and decrypt'},O=p11bridge tests,C=CN`;
  const der = await buildCertificate({
    subject,
    issuer: subject,
    serialNumber: randomSerial(),
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    subjectPublicKeyInfo: key.spki,
    isCA: false,
    keyUsage: ['digitalSignature'],
    signatureAlgorithm: 'sha256WithRSAEncryption',
    signer: tokenSigner(tm, id, 'RSA'),
  });
  await storeActiveIdentity(tm, id, ckaId, der, 'RSA_2048');
}

async function blindSign(client: CasClient, certIdentifier: string, message: string): Promise<string | undefined> {
  const res = await client.sign(
    new SignRequest({ certIdentifier, message, messageType: 'BLIND', signingAlgorithm: 'SHA256withRSA/PSS' }),
  );
  return res.body?.signature;
}

describe('CAS Sign MessageType=BLIND (RSA blind signing)', () => {
  let d: TestDaemon;
  const scratch = new Scratch();
  const decryptingId = randomUUID();
  const unlistedId = randomUUID();
  let rsa: { id: string; certificatePem: string };
  let ec: { id: string };

  beforeAll(async () => {
    let demoRsaId = '';
    d = await startTestDaemon({
      // Two more RSA identities: one whose key may decrypt (listed, and still refused), one that is not listed.
      prepare: async (tm) => {
        demoRsaId = tm.entries().find((x) => x.keySpec === 'RSA_2048' && x.certificate)?.id ?? '';
        await addRsaIdentity(tm, decryptingId, 'sign+decrypt');
        await addRsaIdentity(tm, unlistedId, 'sign');
      },
      configure: (raw) => {
        raw.cas = { blindSigning: { certificates: [demoRsaId, decryptingId] } };
      },
    });
    const r = d.certificates.find((c) => c.id === demoRsaId);
    const e = d.certificates.find((c) => c.keySpec === 'EC_P256');
    if (!r || !e) throw new Error('demo certificates missing');
    rsa = r;
    ec = e;
  });

  afterAll(async () => {
    scratch.cleanup();
    await d.stop();
  });

  it('signs a blinded message that unblinds into an RSA-PSS signature node:crypto and openssl verify', async () => {
    const { n, e, k, bits } = publicNumbers(rsa.certificatePem);
    const message = Buffer.from(`blind ${randomUUID()}`);
    const m = big(emsaPssEncode(message, bits - 1));
    let r = 0n;
    while (r === 0n) r = big(randomBytes(k)) % n;
    const blinded = bytes((m * modPow(r, e, n)) % n, k);
    const answer = await blindSign(cas3(d), rsa.id, blinded.toString('base64'));
    const s = Buffer.from(String(answer), 'base64');
    expect(s.length).toBe(k);
    const signature = bytes((big(s) * modInverse(r, n)) % n, k);
    expect(nodeVerify(rsa.certificatePem, 'pss', message, signature)).toBe(true);
    expect(opensslVerifyData(scratch, rsa.certificatePem, 'pss', message, signature).output).toContain('Verified OK');
    // The daemon never saw the message: the blinded value alone does not verify.
    expect(nodeVerify(rsa.certificatePem, 'pss', message, s)).toBe(false);
  });

  it('refuses a blinded message not smaller than the modulus with 400 InvalidParameter', async () => {
    const { n, k } = publicNumbers(rsa.certificatePem);
    for (const tooBig of [bytes(n, k), Buffer.alloc(k, 0xff), Buffer.alloc(k + 1, 1)]) {
      const err = await expectCloudError(() => blindSign(cas3(d), rsa.id, tooBig.toString('base64')), {
        statusCode: 400,
        code: 'InvalidParameter',
      });
      expect(err.message).toContain('modulus');
    }
  });

  it('refuses a certificate with an EC key with 400 InvalidParameter naming RSA', async () => {
    const err = await expectCloudError(() => blindSign(cas3(d), ec.id, Buffer.from('x').toString('base64')), {
      statusCode: 400,
      code: 'InvalidParameter',
    });
    expect(err.message).toContain('RSA');
  });

  it('refuses a key that may decrypt, even when listed, with 400 UnsupportedOperation', async () => {
    const err = await expectCloudError(() => blindSign(cas3(d), decryptingId, Buffer.from('x').toString('base64')), {
      statusCode: 400,
      code: 'UnsupportedOperation',
    });
    expect(err.message).toContain('decrypt');
  });

  it('refuses a certificate the config does not list with 400 UnsupportedOperation', async () => {
    const err = await expectCloudError(() => blindSign(cas3(d), unlistedId, Buffer.from('x').toString('base64')), {
      statusCode: 400,
      code: 'UnsupportedOperation',
    });
    expect(err.message).toContain('cas.blindSigning');
  });

  it('refuses SHA256withECDSA and SHA256withRSA/P7 as the algorithm of a blind signature', async () => {
    for (const signingAlgorithm of ['SHA256withECDSA', 'SHA256withRSA/P7']) {
      await expectCloudError(
        () =>
          cas3(d).sign(
            new SignRequest({ certIdentifier: rsa.id, message: 'AQ==', messageType: 'BLIND', signingAlgorithm }),
          ),
        { statusCode: 400, code: 'InvalidParameter' },
      );
    }
  });
});
