/**
 * SM2 end to end through the official clients, on one daemon that fronts two tokens from two PKCS#11 modules:
 * SoftHSM2 (warehouse 1: RSA and P-256, no SM2) and the SM2 test token (warehouse 2: softhsm/sm2-test-token, a
 * test double built to the TASS profile of docs/hsm/sm2-tass.yaml). Every SM2 signature is verified by two
 * implementations that are not the daemon's: sm-crypto and `openssl pkeyutl` with distid 1234567812345678.
 * SM2PKE ciphertexts are GM/T 0009 ASN.1 (docs/decisions/0005-sm2.md); OpenSSL's own ciphertexts decrypt too.
 */
import CasClient, {
  DecryptRequest,
  EncryptRequest,
  ListCertRequest,
  ListCertWarehouseRequest,
  VerifyRequest,
} from '@alicloud/cas20200407';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { pemEncode } from '../../src/crypto/pem';
import type { TokenManager } from '../../src/token/tokenManager';
import { startTestDaemon } from '../helpers/daemon';
import { cas3, casSign, coreCaller, KMS_VERSION, pop, type RpcCaller } from '../helpers/clients';
import { sdkError, expectCloudError } from '../helpers/sdkErrors';
import { isDerEcdsaSignature, openssl, Scratch } from '../helpers/verify';
import {
  clientE,
  createSm2TestToken,
  opensslSm2Encrypt,
  opensslSm2Verify,
  opensslSm2VerifyE,
  provisionSm2TestToken,
  smCryptoVerify,
  smCryptoVerifyE,
  type Sm2TestToken,
} from '../helpers/sm2Token';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;

let d: Daemon;
let sm2Token: Sm2TestToken;
let tm: TokenManager;
let kms: RpcCaller;
let cas: CasClient;
let leafId: string;
let leafPem: string;
const scratch = new Scratch();

/** Both independent verifiers, over the message with the default ID and over e; the signature is DER. */
function expectIndependentlyValid(certificatePem: string, message: Buffer, signature: Buffer): void {
  expect(isDerEcdsaSignature(signature)).toBe(true);
  expect(smCryptoVerify(certificatePem, message, signature)).toBe(true);
  expect(smCryptoVerifyE(certificatePem, clientE(certificatePem, message), signature)).toBe(true);
  const byMessage = opensslSm2Verify(scratch, certificatePem, message, signature);
  expect(byMessage.output).toContain('Signature Verified Successfully');
  expect(byMessage.status).toBe(0);
  const byE = opensslSm2VerifyE(scratch, certificatePem, clientE(certificatePem, message), signature);
  expect(byE.output).toContain('Signature Verified Successfully');
  // The distinguishing ID is part of what is signed: another ID does not verify.
  expect(smCryptoVerify(certificatePem, message, signature, '8765432187654321')).toBe(false);
  expect(opensslSm2Verify(scratch, certificatePem, message, signature, '8765432187654321').status).not.toBe(0);
}

async function kmsSign(id: string, messageType: 'RAW' | 'DIGEST', message: Buffer): Promise<Buffer> {
  const res = await kms('CertificatePrivateKeySign', {
    CertificateId: id,
    Algorithm: 'SM2DSA',
    MessageType: messageType,
    Message: message.toString('base64'),
  });
  expect(res.statusCode).toBe(200);
  expect(res.body.CertificateId).toBe(id);
  return Buffer.from(String(res.body.SignatureValue), 'base64');
}

beforeAll(async () => {
  sm2Token = createSm2TestToken({ warehouseId: 2 });
  const ids = await provisionSm2TestToken(sm2Token);
  leafId = ids.leaf;
  d = await startTestDaemon({
    configure: (raw) => {
      (raw.tokens as unknown[]).push(sm2Token.rawConfig);
    },
  });
  kms = coreCaller(d);
  cas = cas3(d);
  const wh2 = d.daemon.tokens.byWarehouse(2);
  if (!wh2) throw new Error('warehouse 2 missing');
  tm = wh2;
  leafPem = pemEncode('CERTIFICATE', tm.lookup(leafId)?.certificate?.raw ?? Buffer.alloc(0));
});

afterAll(async () => {
  await d?.stop();
  sm2Token?.cleanup();
  scratch.cleanup();
});

describe('KMS CertificatePrivateKeySign with SM2DSA', () => {
  const message = randomBytes(1000);

  test('RAW: a DER SEQUENCE { r, s } over e = SM3(Z_A ‖ M), verified by sm-crypto and openssl with ID 1234567812345678', async () => {
    expectIndependentlyValid(leafPem, message, await kmsSign(leafId, 'RAW', message));
  });

  test('DIGEST carrying the e a client computed verifies exactly like RAW', async () => {
    const raw = await kmsSign(leafId, 'RAW', message);
    const digest = await kmsSign(leafId, 'DIGEST', clientE(leafPem, message));
    expect(raw.equals(digest)).toBe(false); // SM2 signatures are randomised
    expectIndependentlyValid(leafPem, message, raw);
    expectIndependentlyValid(leafPem, message, digest);
  });

  test('RAW through pop-core (V1, GET) verifies too; 4096 bytes are accepted', async () => {
    const data = randomBytes(4096);
    const res = await pop(d, KMS_VERSION).request('CertificatePrivateKeySign', {
      CertificateId: leafId,
      Algorithm: 'SM2DSA',
      MessageType: 'RAW',
      Message: data.toString('base64'),
    });
    expect(res.status).toBe(200);
    expectIndependentlyValid(leafPem, data, Buffer.from(String(res.body.SignatureValue), 'base64'));
  });

  test('a DIGEST that is not 32 bytes, and RAW data over 4096 bytes, are 400 InvalidParameter', async () => {
    for (const [messageType, value] of [
      ['DIGEST', randomBytes(31)],
      ['DIGEST', randomBytes(64)],
      ['RAW', randomBytes(4097)],
    ] as const) {
      const e = await sdkError(() => kmsSign(leafId, messageType, value));
      expect({ messageType, statusCode: e.statusCode, code: e.code }).toEqual({
        messageType,
        statusCode: 400,
        code: 'InvalidParameter',
      });
    }
  });
});

describe('CAS Sign and Verify with SM3withSM2', () => {
  const text = '国密 SM2 签名 — signed in the token';

  async function sign(messageType: string, message: string): Promise<Buffer> {
    const body = await casSign(cas, { certIdentifier: leafId, signingAlgorithm: 'SM3withSM2', messageType, message });
    return Buffer.from(body.signature ?? '', 'base64');
  }

  async function verify(messageType: string, message: string, signature: Buffer): Promise<boolean | undefined> {
    const res = await cas.verify(
      new VerifyRequest({
        certIdentifier: leafId,
        signingAlgorithm: 'SM3withSM2',
        messageType,
        message,
        signatureValue: signature.toString('base64'),
      }),
    );
    return res.body?.signatureValid;
  }

  test('RAW (the UTF-8 string), BASE64 and DIGEST (e as base64 or hex) all verify independently', async () => {
    const data = Buffer.from(text, 'utf8');
    const e = clientE(leafPem, data);
    for (const [messageType, message] of [
      ['RAW', text],
      ['BASE64', data.toString('base64')],
      ['DIGEST', e.toString('base64')],
      ['DIGEST', e.toString('hex')],
    ] as const) {
      expectIndependentlyValid(leafPem, data, await sign(messageType, message));
    }
  });

  test('Verify accepts the signature over RAW, BASE64 and DIGEST alike, and rejects other data or an altered signature', async () => {
    const data = Buffer.from(text, 'utf8');
    const signature = await sign('RAW', text);
    expect(await verify('RAW', text, signature)).toBe(true);
    expect(await verify('BASE64', data.toString('base64'), signature)).toBe(true);
    expect(await verify('DIGEST', clientE(leafPem, data).toString('base64'), signature)).toBe(true);
    expect(await verify('RAW', `${text}.`, signature)).toBe(false);
    const altered = Buffer.from(signature);
    altered[altered.length - 2] = (altered[altered.length - 2] ?? 0) ^ 0x01;
    expect(await verify('RAW', text, altered)).toBe(false);
    expect(await verify('RAW', text, Buffer.from('not a signature'))).toBe(false);
  });
});

describe('KMS CertificatePublicKeyVerify with SM2DSA', () => {
  test('accepts the token signatures over RAW and DIGEST both ways, and rejects altered ones', async () => {
    const message = randomBytes(200);
    for (const signature of [
      await kmsSign(leafId, 'RAW', message),
      await kmsSign(leafId, 'DIGEST', clientE(leafPem, message)),
    ]) {
      const verify = async (messageType: string, value: Buffer, sig: Buffer): Promise<unknown> =>
        (
          await kms('CertificatePublicKeyVerify', {
            CertificateId: leafId,
            Algorithm: 'SM2DSA',
            MessageType: messageType,
            Message: value.toString('base64'),
            SignatureValue: sig.toString('base64'),
          })
        ).body.SignatureValid;
      expect(await verify('RAW', message, signature)).toBe(true);
      expect(await verify('DIGEST', clientE(leafPem, message), signature)).toBe(true);
      expect(await verify('RAW', randomBytes(200), signature)).toBe(false);
      // e computed with another user ID is another value: the signature does not cover it.
      expect(await verify('DIGEST', clientE(leafPem, message, 'ALICE123@YAHOO.COM'), signature)).toBe(false);
      const altered = Buffer.from(signature);
      altered[10] = (altered[10] ?? 0) ^ 0x40;
      expect(await verify('RAW', message, altered)).toBe(false);
    }
  });
});

describe('SM2PKE encryption and decryption (GM/T 0009 ASN.1 ciphertexts)', () => {
  async function kmsDecrypt(id: string, blob: Buffer): Promise<Buffer> {
    const res = await kms('CertificatePrivateKeyDecrypt', {
      CertificateId: id,
      Algorithm: 'SM2PKE',
      CiphertextBlob: blob.toString('base64'),
    });
    return Buffer.from(String(res.body.Plaintext), 'base64');
  }

  test('KMS: decrypt(encrypt(x)) = x, from 1 byte to the documented 6047, as an ASN.1 SEQUENCE { x, y, hash, ciphertext }', async () => {
    for (const size of [1, 100, 6047]) {
      const plaintext = randomBytes(size);
      const enc = await kms('CertificatePublicKeyEncrypt', {
        CertificateId: leafId,
        Algorithm: 'SM2PKE',
        Plaintext: plaintext.toString('base64'),
      });
      const blob = Buffer.from(String(enc.body.CiphertextBlob), 'base64');
      const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', scratch.file(blob)]).output;
      expect(parsed).toMatch(/SEQUENCE[\s\S]*INTEGER[\s\S]*INTEGER[\s\S]*OCTET STRING[\s\S]*OCTET STRING/);
      expect((await kmsDecrypt(leafId, blob)).equals(plaintext)).toBe(true);
    }
    await expectCloudError(
      () =>
        kms('CertificatePublicKeyEncrypt', {
          CertificateId: leafId,
          Algorithm: 'SM2PKE',
          Plaintext: randomBytes(6048).toString('base64'),
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });

  test('CAS: Encrypt → Decrypt round-trips text (RAW) and bytes (Base64)', async () => {
    const enc = await cas.encrypt(
      new EncryptRequest({ certIdentifier: leafId, algorithm: 'SM2PKE', plaintext: '国密 SM2PKE' }),
    );
    expect(enc.body?.certIdentifier).toBe(leafId);
    const dec = await cas.decrypt(
      new DecryptRequest({
        certIdentifier: leafId,
        algorithm: 'SM2PKE',
        ciphertextBlob: enc.body?.ciphertextBlob,
        messageType: 'RAW',
      }),
    );
    expect(dec.body?.plaintext).toBe('国密 SM2PKE');
    const bytes = randomBytes(33);
    const enc2 = await cas.encrypt(
      new EncryptRequest({
        certIdentifier: leafId,
        algorithm: 'SM2PKE',
        plaintext: bytes.toString('base64'),
        messageType: 'Base64',
      }),
    );
    const dec2 = await cas.decrypt(
      new DecryptRequest({ certIdentifier: leafId, algorithm: 'SM2PKE', ciphertextBlob: enc2.body?.ciphertextBlob }),
    );
    expect(Buffer.from(dec2.body?.plaintext ?? '', 'base64').equals(bytes)).toBe(true);
  });

  test('decrypts a ciphertext made independently by openssl pkeyutl -encrypt with the certificate key', async () => {
    const plaintext = Buffer.from('encrypted by OpenSSL, decrypted in the token');
    expect((await kmsDecrypt(leafId, opensslSm2Encrypt(scratch, leafPem, plaintext))).equals(plaintext)).toBe(true);
  });

  test('refuses garbage, a point off the curve and a tampered ciphertext with 400 InvalidParameter', async () => {
    const good = opensslSm2Encrypt(scratch, leafPem, Buffer.from('x'.repeat(40)));
    const tampered = Buffer.from(good);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    const offCurve = Buffer.from(good);
    offCurve[6] = (offCurve[6] ?? 0) ^ 1; // inside the x coordinate of C1
    for (const blob of [Buffer.from('not a ciphertext'), offCurve, tampered]) {
      await expectCloudError(() => kmsDecrypt(leafId, blob), { statusCode: 400, code: 'InvalidParameter' });
    }
  });
});

describe('KMS CreateCertificate with EC_SM2, issued by an independent SM2 CA (openssl)', () => {
  const SUBJECT = 'CN=sm2.example.com,OU=e2e,O=p11bridge tests,C=CN';
  let id: string;
  let csrPem: string;
  let certPem: string;
  let caPem: string;

  test('goes to the token that can make SM2 keys (no WarehouseId) and returns an SM2-with-SM3 CSR signed in the token', async () => {
    const res = await kms('CreateCertificate', { Subject: SUBJECT, KeySpec: 'EC_SM2' });
    expect(res.statusCode).toBe(200);
    id = String(res.body.CertificateId);
    csrPem = String(res.body.Csr);
    expect(tm.lookup(id)).toMatchObject({ keySpec: 'EC_SM2', canSign: true, canDecrypt: true });
    const csr = AsnConvert.parse(
      Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'),
      CertificationRequest,
    );
    expect(csr.signatureAlgorithm.algorithm).toBe('1.2.156.10197.1.501');
    const file = scratch.file(csrPem, 'pem');
    const withId = openssl(['req', '-in', file, '-verify', '-noout', '-vfyopt', 'distid:1234567812345678']);
    expect(withId.output).toMatch(/verify OK/);
    expect(openssl(['req', '-in', file, '-noout', '-text']).output).toContain('SM2-with-SM3');
  });

  test('an SM2 CA made by openssl issues it; UploadCertificate links the chain; the certificate signs and decrypts', async () => {
    const dir = scratch.dir;
    const ok = (args: string[]): string => {
      const r = openssl(args);
      if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}:\n${r.output}`);
      return r.output;
    };
    ok(['genpkey', '-algorithm', 'SM2', '-out', join(dir, 'sm2ca.key')]);
    ok(
      ['req', '-x509', '-key', join(dir, 'sm2ca.key'), '-out', join(dir, 'sm2ca.pem'), '-days', '30', '-sm3'].concat(
        ['-sigopt', 'distid:1234567812345678', '-subj', '/C=CN/O=p11bridge tests/CN=OpenSSL SM2 CA'],
        ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      ),
    );
    // x509 -req checks the CSR's self-signature (with the same ID) before it issues.
    const issued = openssl(
      [
        'x509',
        '-req',
        '-in',
        scratch.file(csrPem, 'pem'),
        '-CA',
        join(dir, 'sm2ca.pem'),
        '-CAkey',
        join(dir, 'sm2ca.key'),
      ].concat(
        [
          '-CAcreateserial',
          '-days',
          '10',
          '-sm3',
          '-sigopt',
          'distid:1234567812345678',
          '-vfyopt',
          'distid:1234567812345678',
        ],
        ['-out', join(dir, 'sm2leaf.pem')],
      ),
    );
    expect(issued.output).toMatch(/self-signature ok/);
    certPem = ok(['x509', '-in', join(dir, 'sm2leaf.pem')]);
    caPem = ok(['x509', '-in', join(dir, 'sm2ca.pem')]);
    const up = await kms('UploadCertificate', { CertificateId: id, Certificate: certPem, CertificateChain: caPem });
    expect(up.statusCode).toBe(200);
    // The daemon linked the chain through the SM2-with-SM3 signature OpenSSL made.
    expect(tm.lookup(id)?.chain.map((c) => new X509Certificate(c).subject)).toEqual([
      new X509Certificate(caPem).subject,
    ]);
    const described = await kms('DescribeCertificate', { CertificateId: id });
    expect(described.body).toMatchObject({ KeySpec: 'EC_SM2', Status: 'ACTIVE', SignatureAlgorithm: 'SM2-SM3' });
    const got = await kms('GetCertificate', { CertificateId: id });
    expect(String(got.body.CertificateChain)).toContain('BEGIN CERTIFICATE');

    const message = randomBytes(500);
    expectIndependentlyValid(certPem, message, await kmsSign(id, 'RAW', message));
    const enc = await kms('CertificatePublicKeyEncrypt', {
      CertificateId: id,
      Algorithm: 'SM2PKE',
      Plaintext: message.toString('base64'),
    });
    const dec = await kms('CertificatePrivateKeyDecrypt', {
      CertificateId: id,
      Algorithm: 'SM2PKE',
      CiphertextBlob: enc.body.CiphertextBlob as string,
    });
    expect(Buffer.from(String(dec.body.Plaintext), 'base64').equals(message)).toBe(true);
  });
});

describe('several tokens in one daemon, and tokens without SM2', () => {
  const softhsmCert = (spec: string): string => {
    const c = d.certificates.find((x) => x.keySpec === spec);
    if (!c) throw new Error(`no ${spec} certificate on warehouse 1`);
    return c.id;
  };

  test('ListCertWarehouse shows both tokens; ListCert scopes by warehouse; each certificate signs on its own token', async () => {
    const warehouses = (await cas.listCertWarehouse(new ListCertWarehouseRequest({}))).body?.certWarehouseList ?? [];
    expect(warehouses.map((w) => w.whId).sort()).toEqual([1, 2]);
    const onSm2 = (await cas.listCert(new ListCertRequest({ warehouseId: 2 }))).body?.certList ?? [];
    expect(onSm2.map((c) => c.identifier)).toContain(leafId);
    expect(onSm2.every((c) => c.whId === 2)).toBe(true);
    const ecdsa = await casSign(cas, {
      certIdentifier: softhsmCert('EC_P256'),
      signingAlgorithm: 'SHA256withECDSA',
      messageType: 'RAW',
      message: 'x',
    });
    expect(ecdsa.signature).toBeTruthy();
    expectIndependentlyValid(leafPem, Buffer.from('x'), await kmsSign(leafId, 'RAW', Buffer.from('x')));
  });

  test('SM2DSA and SM3withSM2 on the SoftHSM2 certificates stay 400 Rejected.UnsupportedOperation (KMS) and UnsupportedOperation (CAS) naming SM2', async () => {
    for (const spec of ['EC_P256', 'RSA_2048']) {
      const e = await expectCloudError(() => kmsSign(softhsmCert(spec), 'RAW', Buffer.from('x')), {
        statusCode: 400,
        code: 'Rejected.UnsupportedOperation',
      });
      expect(e.message).toContain('SM2');
      const c = await expectCloudError(
        () =>
          casSign(cas, {
            certIdentifier: softhsmCert(spec),
            signingAlgorithm: 'SM3withSM2',
            messageType: 'RAW',
            message: 'x',
          }),
        { statusCode: 400, code: 'UnsupportedOperation' },
      );
      expect(c.message).toContain('SM2');
    }
  });

  test('EC_SM2 on warehouse 1 is 400 Rejected.UnsupportedOperation naming SM2; SM2PKE on its RSA key is 400 InvalidParameter', async () => {
    await expectCloudError(
      () =>
        kms('CertificatePublicKeyEncrypt', {
          CertificateId: softhsmCert('RSA_2048'),
          Algorithm: 'SM2PKE',
          Plaintext: 'eA==',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    ); // an RSA key: the algorithm does not fit
    const create = await expectCloudError(
      () => kms('CreateCertificate', { Subject: 'CN=a,OU=b,O=c,C=CN', KeySpec: 'EC_SM2', WarehouseId: '1' }),
      { statusCode: 400, code: 'Rejected.UnsupportedOperation' },
    );
    expect(create.message).toContain('SM2');
  });

  test('an algorithm that does not fit an SM2 key is 400 InvalidParameter (ECDSA_SHA_256, RSAES_OAEP_SHA_1)', async () => {
    await expectCloudError(
      () =>
        kms('CertificatePrivateKeySign', {
          CertificateId: leafId,
          Algorithm: 'ECDSA_SHA_256',
          MessageType: 'RAW',
          Message: 'eA==',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    await expectCloudError(
      () =>
        kms('CertificatePublicKeyEncrypt', { CertificateId: leafId, Algorithm: 'RSAES_OAEP_SHA_1', Plaintext: 'eA==' }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });
});
