/**
 * Signatures that verify everywhere (issue: signing): every (algorithm × message type × product) cell the
 * SoftHSM2 demo token supports is signed through the API with an official client, then verified by node:crypto
 * and by the `openssl` CLI, with the encodings of protocol §9.5–9.6 (PSS salt 32, ECDSA DER, detached CMS).
 * The parameter errors of both operations reach the SDK with the cloud's status and code.
 */
import { createHash, randomBytes } from 'node:crypto';
import type CasClient from '@alicloud/cas20200407';
import { startTestDaemon, type TestCertificate } from '../helpers/daemon';
import { cas3, casSign, coreCaller, teaCaller, type RpcCaller } from '../helpers/clients';
import { expectCloudError } from '../helpers/sdkErrors';
import {
  isDerEcdsaSignature,
  nodeVerify,
  nodeVerifyCms,
  opensslVerifyCms,
  opensslVerifyData,
  opensslVerifyDigest,
  Scratch,
} from '../helpers/verify';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;
type Kind = 'pkcs1' | 'pss' | 'ecdsa';

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function certOf(d: Daemon, spec: 'RSA_2048' | 'EC_P256'): TestCertificate {
  const c = d.certificates.find((x) => x.keySpec === spec);
  if (!c) throw new Error(`demo token has no ${spec} certificate`);
  return c;
}

/** Verifies with node:crypto and openssl; DIGEST signatures are checked against the digest by openssl. */
function expectVerifies(
  scratch: Scratch,
  cert: TestCertificate,
  kind: Kind,
  data: Buffer,
  sig: Buffer,
  viaDigest: boolean,
): void {
  expect(nodeVerify(cert.certificatePem, kind, data, sig)).toBe(true);
  const byData = opensslVerifyData(scratch, cert.certificatePem, kind, data, sig);
  expect(byData.output).toContain('Verified OK');
  expect(byData.status).toBe(0);
  if (viaDigest) {
    const byDigest = opensslVerifyDigest(scratch, cert.certificatePem, kind, sha256(data), sig);
    expect(byDigest.output).toContain('Signature Verified Successfully');
    expect(byDigest.status).toBe(0);
  }
  if (kind === 'ecdsa') {
    expect(isDerEcdsaSignature(sig)).toBe(true);
    // Usually 70–72 bytes; shorter when r or s happens to be small (about 1 signature in 128 is 69 or less).
    expect(sig.length).toBeLessThanOrEqual(72);
  }
  if (kind === 'pss') {
    // The salt is 32 bytes: a verifier that insists on 20 rejects it.
    expect(nodeVerify(cert.certificatePem, 'pss', data, sig, 20)).toBe(false);
  }
}

describe('the demo token (default config: CAS RAW is the literal UTF-8 string)', () => {
  let d: Daemon;
  let rsa: TestCertificate;
  let ec: TestCertificate;
  let kms: RpcCaller;
  let cas: CasClient;
  const scratch = new Scratch();

  beforeAll(async () => {
    d = await startTestDaemon();
    rsa = certOf(d, 'RSA_2048');
    ec = certOf(d, 'EC_P256');
    kms = coreCaller(d);
    cas = cas3(d);
  });

  afterAll(async () => {
    await d?.stop();
    scratch.cleanup();
  });

  async function kmsSignature(
    cert: TestCertificate,
    algorithm: string,
    messageType: 'RAW' | 'DIGEST',
    message: Buffer,
  ): Promise<Buffer> {
    const res = await kms('CertificatePrivateKeySign', {
      CertificateId: cert.id,
      Algorithm: algorithm,
      MessageType: messageType,
      Message: message.toString('base64'),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body.CertificateId).toBe(cert.id);
    return Buffer.from(String(res.body.SignatureValue), 'base64');
  }

  async function casSignature(
    cert: TestCertificate,
    algorithm: string,
    messageType: string,
    message: string,
  ): Promise<Buffer> {
    const body = await casSign(cas, { certIdentifier: cert.id, signingAlgorithm: algorithm, messageType, message });
    expect(body.requestId).toBeTruthy();
    return Buffer.from(body.signature ?? '', 'base64');
  }

  describe('KMS CertificatePrivateKeySign (openapi-core callApi, V3)', () => {
    const cells = [
      ['RSA_PKCS1_SHA_256', 'RSA_2048', 'pkcs1'],
      ['RSA_PSS_SHA_256', 'RSA_2048', 'pss'],
      ['ECDSA_SHA_256', 'EC_P256', 'ecdsa'],
    ] as const;
    const data = randomBytes(1000);

    test.each(cells)('%s with MessageType=RAW verifies with node:crypto and openssl', async (algorithm, spec, kind) => {
      const cert = certOf(d, spec);
      expectVerifies(scratch, cert, kind, data, await kmsSignature(cert, algorithm, 'RAW', data), false);
    });

    test.each(cells)(
      '%s with MessageType=DIGEST verifies with node:crypto and openssl (data and digest)',
      async (algorithm, spec, kind) => {
        const cert = certOf(d, spec);
        expectVerifies(scratch, cert, kind, data, await kmsSignature(cert, algorithm, 'DIGEST', sha256(data)), true);
      },
    );

    test('RSA_PKCS1_SHA_256 signatures of RAW data and of its DIGEST are byte-identical', async () => {
      const raw = await kmsSignature(rsa, 'RSA_PKCS1_SHA_256', 'RAW', data);
      const digest = await kmsSignature(rsa, 'RSA_PKCS1_SHA_256', 'DIGEST', sha256(data));
      expect(digest.equals(raw)).toBe(true);
    });

    test('RSA_PSS_SHA_256 and ECDSA_SHA_256 signatures of RAW data and of its DIGEST verify alike', async () => {
      for (const [cert, algorithm, kind] of [
        [rsa, 'RSA_PSS_SHA_256', 'pss'],
        [ec, 'ECDSA_SHA_256', 'ecdsa'],
      ] as const) {
        const raw = await kmsSignature(cert, algorithm, 'RAW', data);
        const digest = await kmsSignature(cert, algorithm, 'DIGEST', sha256(data));
        expect(raw.equals(digest)).toBe(false); // randomised schemes
        expect(nodeVerify(cert.certificatePem, kind, data, raw)).toBe(true);
        expect(nodeVerify(cert.certificatePem, kind, data, digest)).toBe(true);
      }
    });

    test('accepts 4096 bytes of RAW data and rejects 4097 with 400 InvalidParameter', async () => {
      const max = randomBytes(4096);
      expect(nodeVerify(ec.certificatePem, 'ecdsa', max, await kmsSignature(ec, 'ECDSA_SHA_256', 'RAW', max))).toBe(
        true,
      );
      const e = await expectCloudError(() => kmsSignature(ec, 'ECDSA_SHA_256', 'RAW', randomBytes(4097)), {
        name: 'ClientError',
        statusCode: 400,
        code: 'InvalidParameter',
      });
      expect(e.message).toContain('4097');
    });

    test.each([
      ['a Message that is not base64', { Message: 'not base64!' }],
      ['a Message with base64 of the wrong alphabet', { Message: 'ab-_' }],
      ['a 31-byte DIGEST', { MessageType: 'DIGEST', Message: randomBytes(31).toString('base64') }],
      ['a 48-byte DIGEST', { MessageType: 'DIGEST', Message: randomBytes(48).toString('base64') }],
      ['an unknown Algorithm', { Algorithm: 'RSA_PKCS1_SHA_512' }],
      ['ECDSA_SHA_256 on the RSA certificate', { Algorithm: 'ECDSA_SHA_256' }],
      ['an unknown MessageType', { MessageType: 'BASE64' }],
    ])('rejects %s with 400 InvalidParameter', async (_name, over) => {
      const query = {
        CertificateId: rsa.id,
        Algorithm: 'RSA_PKCS1_SHA_256',
        MessageType: 'RAW',
        Message: 'MTIzNA==',
        ...over,
      };
      await expectCloudError(() => kms('CertificatePrivateKeySign', query), {
        statusCode: 400,
        code: 'InvalidParameter',
      });
    });

    test('rejects RSA_PKCS1_SHA_256 and RSA_PSS_SHA_256 on the EC certificate with 400 InvalidParameter', async () => {
      for (const Algorithm of ['RSA_PKCS1_SHA_256', 'RSA_PSS_SHA_256']) {
        const e = await expectCloudError(
          () =>
            kms('CertificatePrivateKeySign', {
              CertificateId: ec.id,
              Algorithm,
              MessageType: 'RAW',
              Message: 'MTIzNA==',
            }),
          { statusCode: 400, code: 'InvalidParameter' },
        );
        expect(e.message).toContain('EC_P256');
      }
    });

    test('answers SM2DSA on this SoftHSM2 token with 400 Rejected.UnsupportedOperation naming SM2', async () => {
      for (const cert of [rsa, ec]) {
        const e = await expectCloudError(
          () =>
            kms('CertificatePrivateKeySign', {
              CertificateId: cert.id,
              Algorithm: 'SM2DSA',
              MessageType: 'RAW',
              Message: 'MTIzNA==',
            }),
          { statusCode: 400, code: 'Rejected.UnsupportedOperation' },
        );
        expect(e.message).toContain('SM2');
      }
    });

    test('answers an unknown CertificateId with 404 Certificate.NotFound', async () => {
      await expectCloudError(
        () =>
          kms('CertificatePrivateKeySign', {
            CertificateId: '12345678-1234-1234-1234-123456780000',
            Algorithm: 'RSA_PKCS1_SHA_256',
            MessageType: 'RAW',
            Message: 'MTIzNA==',
          }),
        { name: 'ClientError', statusCode: 404, code: 'Certificate.NotFound' },
      );
    });
  });

  describe('CAS Sign (cas20200407 3.x, V3)', () => {
    const text = 'Vertrag №42 — héllo wörld, 合同';
    const data = Buffer.from(text, 'utf8');
    const messages: Record<'RAW' | 'BASE64' | 'DIGEST', string> = {
      RAW: text,
      BASE64: data.toString('base64'),
      DIGEST: sha256(data).toString('base64'),
    };
    const types = ['RAW', 'BASE64', 'DIGEST'] as const;
    const cells = (
      [
        ['SHA256withRSA', 'RSA_2048', 'pkcs1'],
        ['SHA256withRSA/PSS', 'RSA_2048', 'pss'],
        ['SHA256withECDSA', 'EC_P256', 'ecdsa'],
      ] as const
    ).flatMap(([algorithm, spec, kind]) => types.map((type) => [algorithm, type, spec, kind] as const));

    test.each(cells)(
      '%s with MessageType=%s verifies with node:crypto and openssl',
      async (algorithm, type, spec, kind) => {
        const cert = certOf(d, spec);
        expectVerifies(
          scratch,
          cert,
          kind,
          data,
          await casSignature(cert, algorithm, type, messages[type]),
          type === 'DIGEST',
        );
      },
    );

    test.each(types)(
      'SHA256withRSA/P7 with MessageType=%s is a detached CMS SignedData that node:crypto and openssl cms verify',
      async (type) => {
        const cms = await casSignature(rsa, 'SHA256withRSA/P7', type, messages[type]);
        expect(cms[0]).toBe(0x30);
        expect(nodeVerifyCms(rsa.certificatePem, data, cms)).toEqual({ messageDigestOk: true, signatureOk: true });
        const r = opensslVerifyCms(scratch, rsa.chainPem, data, cms);
        expect(r.output).toContain('Verification successful');
        expect(r.status).toBe(0);
        // Detached: against other content it fails.
        expect(opensslVerifyCms(scratch, rsa.chainPem, Buffer.from('other'), cms).status).not.toBe(0);
      },
    );

    test('MessageType=RAW signs the literal UTF-8 bytes of the string', async () => {
      const sig = await casSignature(rsa, 'SHA256withRSA', 'RAW', 'héllo wörld');
      expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from('héllo wörld', 'utf8'), sig)).toBe(true);
      expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from('héllo wörld', 'latin1'), sig)).toBe(false);
      // A base64-looking RAW message is still the string, not its decoding.
      const b64 = await casSignature(rsa, 'SHA256withRSA', 'RAW', 'MTIzNA==');
      expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from('MTIzNA=='), b64)).toBe(true);
    });

    test('SHA256withRSA signatures of RAW, BASE64 and DIGEST for the same data are byte-identical', async () => {
      const sigs = await Promise.all(types.map((type) => casSignature(rsa, 'SHA256withRSA', type, messages[type])));
      expect(sigs[1]?.equals(sigs[0] as Buffer)).toBe(true);
      expect(sigs[2]?.equals(sigs[0] as Buffer)).toBe(true);
    });

    test('MessageType=DIGEST also accepts the digest as 64 hex characters', async () => {
      const sig = await casSignature(ec, 'SHA256withECDSA', 'DIGEST', sha256(data).toString('hex'));
      expect(nodeVerify(ec.certificatePem, 'ecdsa', data, sig)).toBe(true);
    });

    test.each([
      ['a BASE64 Message that is not base64', { messageType: 'BASE64', message: 'héllo' }],
      ['a 33-byte DIGEST', { messageType: 'DIGEST', message: randomBytes(33).toString('base64') }],
      ['RAW data over 4 KB', { messageType: 'RAW', message: 'x'.repeat(4097) }],
      ['an unknown SigningAlgorithm', { signingAlgorithm: 'SHA1withRSA' }],
      ['SHA256withECDSA on the RSA certificate', { signingAlgorithm: 'SHA256withECDSA' }],
    ])('rejects %s with 400 InvalidParameter', async (_name, over) => {
      await expectCloudError(
        () =>
          casSign(cas, {
            certIdentifier: rsa.id,
            signingAlgorithm: 'SHA256withRSA',
            messageType: 'RAW',
            message: 'x',
            ...over,
          }),
        { name: 'ClientError', statusCode: 400, code: 'InvalidParameter' },
      );
    });

    test('rejects SHA256withRSA, SHA256withRSA/PSS and SHA256withRSA/P7 on the EC certificate with 400 InvalidParameter', async () => {
      for (const signingAlgorithm of ['SHA256withRSA', 'SHA256withRSA/PSS', 'SHA256withRSA/P7']) {
        await expectCloudError(
          () => casSign(cas, { certIdentifier: ec.id, signingAlgorithm, messageType: 'RAW', message: 'x' }),
          { statusCode: 400, code: 'InvalidParameter' },
        );
      }
    });

    test('answers SM3withSM2 on this SoftHSM2 token with 400 UnsupportedOperation naming SM2', async () => {
      for (const cert of [rsa, ec]) {
        const e = await expectCloudError(
          () =>
            casSign(cas, { certIdentifier: cert.id, signingAlgorithm: 'SM3withSM2', messageType: 'RAW', message: 'x' }),
          { statusCode: 400, code: 'UnsupportedOperation' },
        );
        expect(e.message).toContain('SM2');
      }
    });

    test('answers an unknown CertIdentifier with 400 NotFound', async () => {
      await expectCloudError(
        () =>
          casSign(cas, {
            certIdentifier: 'no-such-identifier',
            signingAlgorithm: 'SHA256withRSA',
            messageType: 'RAW',
            message: 'x',
          }),
        { name: 'ClientError', statusCode: 400, code: 'NotFound' },
      );
    });
  });

  test('64 concurrent signatures through the SDKs all verify', async () => {
    const tea = teaCaller(d, { signatureAlgorithm: 'v2' });
    const jobs = Array.from({ length: 64 }, async (_, i) => {
      const data = Buffer.from(`concurrent message ${i} ${randomBytes(8).toString('hex')}`);
      switch (i % 4) {
        case 0:
          return nodeVerify(ec.certificatePem, 'ecdsa', data, await kmsSignature(ec, 'ECDSA_SHA_256', 'RAW', data));
        case 1:
          return nodeVerify(
            rsa.certificatePem,
            'pss',
            data,
            await casSignature(rsa, 'SHA256withRSA/PSS', 'BASE64', data.toString('base64')),
          );
        case 2: {
          const res = await tea('CertificatePrivateKeySign', {
            CertificateId: rsa.id,
            Algorithm: 'RSA_PKCS1_SHA_256',
            MessageType: 'DIGEST',
            Message: sha256(data).toString('base64'),
          });
          return nodeVerify(rsa.certificatePem, 'pkcs1', data, Buffer.from(String(res.body.SignatureValue), 'base64'));
        }
        default:
          return nodeVerify(
            ec.certificatePem,
            'ecdsa',
            data,
            await casSignature(ec, 'SHA256withECDSA', 'RAW', data.toString('utf8')),
          );
      }
    });
    const results = await Promise.all(jobs);
    expect(results).toEqual(Array.from({ length: 64 }, () => true));
  });
});

describe('a daemon configured with cas.rawMessageEncoding=base64 (the older CAS docs)', () => {
  let d: Daemon;
  let cas: CasClient;

  beforeAll(async () => {
    d = await startTestDaemon({
      configure: (raw) => {
        raw.cas = { rawMessageEncoding: 'base64' };
      },
    });
    cas = cas3(d, { signatureAlgorithm: 'v2' });
  });

  afterAll(async () => {
    await d?.stop();
  });

  test('MessageType=RAW is base64 of the data', async () => {
    const rsa = certOf(d, 'RSA_2048');
    const data = Buffer.from('héllo wörld', 'utf8');
    const body = await casSign(cas, {
      certIdentifier: rsa.id,
      signingAlgorithm: 'SHA256withRSA',
      messageType: 'RAW',
      message: data.toString('base64'),
    });
    const sig = Buffer.from(body.signature ?? '', 'base64');
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', data, sig)).toBe(true);
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from(data.toString('base64')), sig)).toBe(false);
  });

  test('MessageType=RAW with a literal (non-base64) string is 400 InvalidParameter', async () => {
    const ec = certOf(d, 'EC_P256');
    await expectCloudError(
      () =>
        casSign(cas, {
          certIdentifier: ec.id,
          signingAlgorithm: 'SHA256withECDSA',
          messageType: 'RAW',
          message: 'héllo wörld',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });
});
