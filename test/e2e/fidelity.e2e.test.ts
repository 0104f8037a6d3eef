/**
 * Fidelity to the cloud (issue 13): CAS Verify as its documentation says, MessageType spelling, ListCert's
 * Identifiers filter and fields, KMS CreateCertificate's map-shaped SubjectAlternativeNames (legacy V1 clients:
 * legacyV1.e2e.test.ts). Official clients where one can make the call.
 */
import { SignRequest, VerifyRequest } from '@alicloud/cas20200407';
import { X509Certificate } from 'node:crypto';
import { startTestDaemon, type TestCertificate, type TestDaemon } from '../helpers/daemon';
import { cas3, CAS_VERSION, coreCaller } from '../helpers/clients';
import { expectCloudError } from '../helpers/sdkErrors';
import { nodeVerify } from '../helpers/verify';

let d: TestDaemon;
let rsa: TestCertificate;
let ec: TestCertificate;

beforeAll(async () => {
  d = await startTestDaemon();
  const r = d.certificates.find((c) => c.keySpec === 'RSA_2048');
  const e = d.certificates.find((c) => c.keySpec === 'EC_P256');
  if (!r || !e) throw new Error('demo certificates missing');
  rsa = r;
  ec = e;
});

afterAll(async () => {
  await d.stop();
});

describe('CAS Verify reads a RAW message as its documentation says (Base64) and as Sign does (literal)', () => {
  const data = 'pay 100 to alice';

  async function sign(message: string, messageType: string): Promise<string> {
    const res = await cas3(d).sign(
      new SignRequest({ certIdentifier: rsa.id, message, messageType, signingAlgorithm: 'SHA256withRSA' }),
    );
    return String(res.body?.signature);
  }

  async function verify(message: string, signatureValue: string, messageType = 'RAW'): Promise<boolean | undefined> {
    const res = await cas3(d).verify(
      new VerifyRequest({
        certIdentifier: rsa.id,
        message,
        messageType,
        signingAlgorithm: 'SHA256withRSA',
        signatureValue,
      }),
    );
    return res.body?.signatureValid;
  }

  test('a signature over the data verifies with the data in Base64 (Verify docs) and literally (Sign docs)', async () => {
    const signature = await sign(data, 'RAW');
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from(data), Buffer.from(signature, 'base64'))).toBe(true);
    expect(await verify(Buffer.from(data).toString('base64'), signature)).toBe(true);
    expect(await verify(data, signature)).toBe(true);
  });

  test('a signature over other data is not valid under either reading', async () => {
    const signature = await sign('pay 1000 to mallory', 'RAW');
    expect(await verify(Buffer.from(data).toString('base64'), signature)).toBe(false);
    expect(await verify(data, signature)).toBe(false);
  });

  test('a literal message that happens to be Base64 verifies as the literal it was signed as', async () => {
    const literal = 'QUJD'; // also strict Base64 of "ABC"
    const signature = await sign(literal, 'RAW');
    expect(await verify(literal, signature)).toBe(true);
    expect(await verify(Buffer.from('ABC').toString('base64'), await sign('ABC', 'RAW'))).toBe(true);
  });

  test('MessageType is read case-insensitively: Base64 and raw are BASE64 and RAW', async () => {
    const base64 = Buffer.from(data).toString('base64');
    const signature = await sign(base64, 'Base64');
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from(data), Buffer.from(signature, 'base64'))).toBe(true);
    expect(await verify(base64, signature, 'base64')).toBe(true);
    expect(await verify(data, await sign(data, 'raw'), 'Raw')).toBe(true);
    await expectCloudError(() => sign(data, 'TEXT'), { statusCode: 400, code: 'InvalidParameter' });
  });
});

describe('CAS ListCert (openapi-core callApi: cas20200407 3.0.0 predates Identifiers)', () => {
  const listCert = (query: Record<string, string>) => coreCaller(d)('ListCert', query, CAS_VERSION);

  test('Identifiers (comma-separated) returns only the certificates named', async () => {
    const one = await listCert({ Identifiers: rsa.id });
    expect((one.body.CertList as Array<{ Identifier: string }>).map((c) => c.Identifier)).toEqual([rsa.id]);
    expect(one.body.TotalCount).toBe(1);
    const two = await listCert({ Identifiers: `${ec.id}, ${rsa.id},no-such-cert` });
    expect((two.body.CertList as Array<{ Identifier: string }>).map((c) => c.Identifier).sort()).toEqual(
      [rsa.id, ec.id].sort(),
    );
    const all = await listCert({});
    expect((all.body.CertList as unknown[]).length).toBeGreaterThan(2); // the CA too
  });

  test('each row carries Algorithm, SerialNo (lower-case hex) and SignAlgorithm, as node:crypto reads them', async () => {
    const res = await listCert({ Identifiers: `${rsa.id},${ec.id}` });
    const rows = res.body.CertList as Array<Record<string, unknown>>;
    for (const [cert, algorithm] of [
      [rsa, 'RSA'],
      [ec, 'ECC'],
    ] as const) {
      const row = rows.find((r) => r.Identifier === cert.id);
      const x509 = new X509Certificate(cert.certificatePem);
      // The demo CA is an EC P-256 key: it signs every demo certificate with ecdsa-with-SHA256.
      expect(row).toMatchObject({
        Algorithm: algorithm,
        SerialNo: x509.serialNumber.toLowerCase(),
        SignAlgorithm: 'SHA256WITHECDSA',
      });
    }
  });
});

describe('KMS CreateCertificate SubjectAlternativeNames', () => {
  test('accepts the map shape of the generated TypeScript model as well as the documented array', async () => {
    const kms = coreCaller(d);
    for (const names of [
      JSON.stringify({ dns: ['a.example.com', 'b.example.com'] }),
      JSON.stringify(['a.example.com', 'b.example.com']),
    ]) {
      const created = await kms('CreateCertificate', {
        Subject: 'CN=san.example.com,OU=e2e,O=p11bridge tests,C=CN',
        KeySpec: 'EC_P256',
        SubjectAlternativeNames: names,
      });
      const id = String(created.body.CertificateId);
      const described = await kms('DescribeCertificate', { CertificateId: id });
      expect(described.body.SubjectAlternativeNames).toEqual(['a.example.com', 'b.example.com']);
      await kms('DeleteCertificate', { CertificateId: id });
    }
    await expectCloudError(
      () =>
        kms('CreateCertificate', {
          Subject: 'CN=x,OU=e2e,O=p,C=CN',
          KeySpec: 'EC_P256',
          SubjectAlternativeNames: '{"a":1}',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });
});
