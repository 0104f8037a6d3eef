/**
 * The read and verify surface with the official clients, against the demo token (CA, RSA-2048 and EC P-256
 * identities): CAS ListCert, ListCertWarehouse, DescribeWarehouseCert, GetCertWarehouseQuota and Verify; KMS
 * CertificatePublicKeyVerify, GetCertificate and DescribeCertificate; and the refusals of Encrypt/Decrypt on keys
 * that cannot serve them. Signatures come from the daemon's own Sign operations; the public-key checks are
 * compared with node:crypto. Error paths assert HTTP status and Code.
 */
import {
  ListCertRequest,
  ListCertWarehouseRequest,
  VerifyRequest,
  EncryptRequest,
  DecryptRequest,
} from '@alicloud/cas20200407';
import { createHash, X509Certificate } from 'node:crypto';
import { startTestDaemon, type TestCertificate, type TestDaemon } from '../helpers/daemon';
import { as, CAS_VERSION, cas3, casSign, coreCaller, type RpcCaller, type Target } from '../helpers/clients';
import { jsonOf, rawRequest, v1Request } from '../helpers/rawHttp';
import { sdkError, expectCloudError } from '../helpers/sdkErrors';
import { openssl } from '../helpers/verify';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;

let d: Daemon;
let t: Target;
let kms: RpcCaller;
let rsa: TestCertificate;
let ec: TestCertificate;
let caId: string;
let caPem: string;

const MESSAGE = 'p11bridge surface e2e: the quick brown fox';
const sha256 = (data: string | Buffer): Buffer => createHash('sha256').update(data).digest();

/** The CAS operations no 3.x client method exists for, through the same callApi the generated clients use. */
const cas = (action: string, query: Record<string, string> = {}) => kms(action, query, CAS_VERSION);

/** See gateway.e2e.test.ts: the demo ids are known only after start, so the key is narrowed afterwards. */
function restrictCertificates(daemon: TestDaemon, accessKeyId: string, ids: string[]): void {
  const key = daemon.config.auth.accessKeys.find((k) => k.id === accessKeyId);
  if (!key) throw new Error(`no access key ${accessKeyId}`);
  const list = key.certificates as string[];
  list.splice(0, list.length, ...ids);
}

beforeAll(async () => {
  d = await startTestDaemon({ extraKeys: [{ name: 'ecOnly' }] });
  t = d;
  kms = coreCaller(t);
  const bySpec = (spec: string): TestCertificate => {
    const c = d.certificates.find((x) => x.keySpec === spec);
    if (!c) throw new Error(`demo token has no ${spec} certificate`);
    return c;
  };
  rsa = bySpec('RSA_2048');
  ec = bySpec('EC_P256');
  const ca = d.daemon.tokens.tokens[0]?.entries().find((e) => e.isCA);
  if (!ca?.certificate) throw new Error('demo token has no CA');
  caId = ca.id;
  caPem = ca.certificate.toString();
  restrictCertificates(d, d.extraKeys.ecOnly!.id, [ec.id]);
});

afterAll(async () => {
  await d?.stop();
});

describe('CAS ListCert', () => {
  test('lists the demo certificates with the fields and types of the SDK model (dates in epoch ms)', async () => {
    const res = await cas3(t).listCert(new ListCertRequest({}));
    const body = res.body!;
    expect(body).toMatchObject({ currentPage: 1, showSize: 50, totalCount: 3 });
    expect(body.requestId).toMatch(/^[0-9A-F-]{36}$/);
    const list = body.certList ?? [];
    expect(list.map((c) => c.identifier).sort()).toEqual([caId, rsa.id, ec.id].sort());
    for (const cert of [rsa, ec]) {
      const x = new X509Certificate(cert.certificatePem);
      const row = list.find((c) => c.identifier === cert.id);
      expect(row).toEqual({
        whId: 1,
        identifier: cert.id,
        whInstanceId: 'p11bridge-wh-1',
        status: 'ISSUE',
        sourceType: 'upload',
        certType: 'CERT',
        commonName: `p11bridge demo ${cert.keySpec}`,
        beforeDate: new Date(x.validFrom).getTime(),
        afterDate: new Date(x.validTo).getTime(),
        issuer: 'p11bridge demo CA',
        existPrivateKey: true,
        sans: '',
      });
      expect(row!.beforeDate!).toBeLessThan(row!.afterDate!);
    }
    expect(list.find((c) => c.identifier === caId)).toMatchObject({ certType: 'CA', commonName: 'p11bridge demo CA' });
  });

  test('filters by CertType, KeyWord (case-insensitive, on CN and identifier), WarehouseId, Status and SourceType', async () => {
    const ids = async (q: Record<string, unknown>): Promise<string[]> =>
      ((await cas3(t).listCert(new ListCertRequest(q))).body?.certList ?? []).map((c) => c.identifier ?? '').sort();
    expect(await ids({ certType: 'CA' })).toEqual([caId]);
    expect(await ids({ certType: 'CERT' })).toEqual([rsa.id, ec.id].sort());
    expect(await ids({ keyWord: 'demo rsa_2048' })).toEqual([rsa.id]);
    expect(await ids({ keyWord: ec.id.slice(0, 13) })).toEqual([ec.id]);
    expect(await ids({ warehouseId: 1, certType: 'CERT' })).toEqual([rsa.id, ec.id].sort());
    expect(await ids({ warehouseId: 2 })).toEqual([]);
    expect(await ids({ status: 'REVOKE' })).toEqual([]);
    expect(await ids({ status: 'ISSUE' })).toHaveLength(3);
    expect(await ids({ sourceType: 'aliyun' })).toEqual([]);
  });

  test('pages with CurrentPage and ShowSize; TotalCount counts every match', async () => {
    const all = (await cas3(t).listCert(new ListCertRequest({}))).body?.certList?.map((c) => c.identifier) ?? [];
    const second = (await cas3(t).listCert(new ListCertRequest({ currentPage: 2, showSize: 1 }))).body!;
    expect(second).toMatchObject({ currentPage: 2, showSize: 1, totalCount: 3 });
    expect(second.certList?.map((c) => c.identifier)).toEqual([all[1]]);
    const beyond = (await cas3(t).listCert(new ListCertRequest({ currentPage: 9, showSize: 2 }))).body!;
    expect(beyond).toMatchObject({ totalCount: 3 });
    expect(beyond.certList ?? []).toEqual([]);
  });

  test('shows an access key only the certificates it may use', async () => {
    const res = await cas3(as(t, d.extraKeys.ecOnly!)).listCert(new ListCertRequest({}));
    expect(res.body?.certList?.map((c) => c.identifier)).toEqual([ec.id]);
    expect(res.body?.totalCount).toBe(1);
  });

  test('answers a bad Status or ShowSize with 400 InvalidParameter', async () => {
    const e = await expectCloudError(() => cas3(t).listCert(new ListCertRequest({ status: 'VALID' })), {
      statusCode: 400,
      code: 'InvalidParameter',
    });
    expect(e.message).toContain('Status');
    await expectCloudError(() => cas3(t).listCert(new ListCertRequest({ showSize: 0 })), {
      statusCode: 400,
      code: 'InvalidParameter',
    });
  });

  test('renders Format=XML with one CertList element per certificate', async () => {
    const res = await rawRequest(
      t.endpoint,
      v1Request(t, { action: 'ListCert', version: CAS_VERSION, params: { CertType: 'CERT' }, format: 'XML' }),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/xml;charset=utf-8');
    expect(res.body.startsWith("<?xml version='1.0' encoding='UTF-8'?><ListCertResponse>")).toBe(true);
    expect(res.body.match(/<CertList>/g)).toHaveLength(2);
    expect(res.body).toContain(`<Identifier>${rsa.id}</Identifier>`);
    expect(res.body).toContain('<TotalCount>2</TotalCount>');
  });
});

describe('CAS warehouses', () => {
  test('ListCertWarehouse shows the configured token as warehouse 1', async () => {
    const body = (await cas3(t).listCertWarehouse(new ListCertWarehouseRequest({}))).body!;
    expect(body).toMatchObject({ currentPage: 1, showSize: 50, totalCount: 1 });
    expect(body.certWarehouseList).toEqual([
      {
        whId: 1,
        instanceId: 'p11bridge-wh-1',
        name: d.token.label,
        qps: 100,
        type: 'uploadPCA',
        endTime: Date.UTC(9999, 11, 31, 23, 59, 59),
        isExpired: false,
      },
    ]);
    const none = (await cas3(t).listCertWarehouse(new ListCertWarehouseRequest({ type: 'ssl' }))).body!;
    expect(none).toMatchObject({ totalCount: 0 });
    const byName = (
      await cas3(t).listCertWarehouse(new ListCertWarehouseRequest({ name: d.token.label.slice(2, 8).toUpperCase() }))
    ).body!;
    expect(byName.totalCount).toBe(1);
  });

  test('DescribeWarehouseCert returns the certificate PEM with its chain and its facts', async () => {
    const res = await cas('DescribeWarehouseCert', { CertIdentifier: rsa.id });
    expect(res.statusCode).toBe(200);
    const der = new X509Certificate(rsa.certificatePem).raw;
    expect(res.body).toMatchObject({
      Content: rsa.certificatePem + rsa.chainPem,
      Fingerprint: createHash('sha1').update(der).digest('hex').toUpperCase(),
      WarehouseInstanceId: 'p11bridge-wh-1',
      CertIdentifier: rsa.id,
      CertStatus: 'issued',
      CertType: 'CERT',
      CommonName: 'p11bridge demo RSA_2048',
      Issuer: 'p11bridge demo CA',
      IssuerIdentifier: caId,
    });
    expect(rsa.chainPem).toBe(caPem);
  });

  test('DescribeWarehouseCert answers an unknown identifier with 400 NotFound and none with 400 MissingParameter', async () => {
    await expectCloudError(() => cas('DescribeWarehouseCert', { CertIdentifier: 'no-such-cert' }), {
      statusCode: 400,
      code: 'NotFound',
    });
    await expectCloudError(() => cas('DescribeWarehouseCert', {}), { statusCode: 400, code: 'MissingParameter' });
  });

  test('GetCertWarehouseQuota counts the identities against the configured quota (default 1000 per token)', async () => {
    const res = await cas('GetCertWarehouseQuota');
    expect(res.body).toMatchObject({ TotalQuota: 1000, UseCount: 3 });
  });
});

describe('CAS Verify', () => {
  const algorithms = [
    ['SHA256withRSA', () => rsa],
    ['SHA256withRSA/PSS', () => rsa],
    ['SHA256withECDSA', () => ec],
  ] as const;

  test.each(algorithms)('accepts a %s signature from Sign and rejects altered ones', async (alg, cert) => {
    const client = cas3(t);
    const signed = await casSign(client, {
      certIdentifier: cert().id,
      message: MESSAGE,
      messageType: 'RAW',
      signingAlgorithm: alg,
    });
    const signature = signed.signature ?? '';
    const verify = async (message: string, signatureValue: string, messageType = 'RAW'): Promise<boolean | undefined> =>
      (
        await client.verify(
          new VerifyRequest({ certIdentifier: cert().id, message, messageType, signingAlgorithm: alg, signatureValue }),
        )
      ).body?.signatureValid;
    expect(await verify(MESSAGE, signature)).toBe(true);
    expect(await verify(`${MESSAGE}.`, signature)).toBe(false);
    const altered = Buffer.from(signature, 'base64');
    altered[10] = (altered[10] ?? 0) ^ 0x01;
    expect(await verify(MESSAGE, altered.toString('base64'))).toBe(false);
    // DIGEST: the SHA-256 of the message, base64 (hex is accepted too, protocol §12.2).
    expect(await verify(sha256(MESSAGE).toString('base64'), signature, 'DIGEST')).toBe(true);
    expect(await verify(sha256(MESSAGE).toString('hex'), signature, 'DIGEST')).toBe(true);
    expect(await verify(sha256(`${MESSAGE}.`).toString('base64'), signature, 'DIGEST')).toBe(false);
    // Well-formed base64 that is no signature at all is just not valid.
    expect(await verify(MESSAGE, Buffer.from('not a signature').toString('base64'))).toBe(false);
  });

  test('refuses bad input: 400 InvalidParameter for non-base64 SignatureValue, P7, a mismatched algorithm; 400 NotFound', async () => {
    const client = cas3(t);
    const req = (over: Record<string, string>): VerifyRequest =>
      new VerifyRequest({
        certIdentifier: rsa.id,
        message: MESSAGE,
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withRSA',
        signatureValue: 'AAAA',
        ...over,
      });
    for (const over of [
      { signatureValue: 'not*base64' },
      { signingAlgorithm: 'SHA256withRSA/P7' },
      { signingAlgorithm: 'SHA256withECDSA' },
      { signingAlgorithm: 'SM3withSM2' },
      { signingAlgorithm: 'MD5withRSA' },
    ] as Array<Record<string, string>>) {
      const e = await sdkError(() => client.verify(req(over)));
      expect({ over, statusCode: e.statusCode, code: e.code }).toEqual({
        over,
        statusCode: 400,
        code: 'InvalidParameter',
      });
    }
    await expectCloudError(() => client.verify(req({ certIdentifier: 'no-such-cert' })), {
      statusCode: 400,
      code: 'NotFound',
    });
    await expectCloudError(() => cas3(as(t, d.extraKeys.ecOnly!)).verify(req({})), {
      statusCode: 403,
      code: 'Forbidden.RAM',
    });
  });
});

describe('KMS CertificatePublicKeyVerify', () => {
  const cases = [
    ['RSA_PKCS1_SHA_256', () => rsa],
    ['RSA_PSS_SHA_256', () => rsa],
    ['ECDSA_SHA_256', () => ec],
  ] as const;
  const message = Buffer.from(MESSAGE);

  test.each(cases)('accepts %s signatures over RAW and DIGEST and rejects altered ones', async (alg, cert) => {
    const id = cert().id;
    for (const [messageType, value] of [
      ['RAW', message],
      ['DIGEST', sha256(message)],
    ] as const) {
      const signed = await kms('CertificatePrivateKeySign', {
        CertificateId: id,
        Algorithm: alg,
        MessageType: messageType,
        Message: value.toString('base64'),
      });
      const signature = String(signed.body.SignatureValue);
      const verify = async (mt: string, m: Buffer, sig: string): Promise<unknown> => {
        const res = await kms('CertificatePublicKeyVerify', {
          CertificateId: id,
          Algorithm: alg,
          MessageType: mt,
          Message: m.toString('base64'),
          SignatureValue: sig,
        });
        expect(res.body.CertificateId).toBe(id);
        return res.body.SignatureValid;
      };
      // Whichever way it was signed, it verifies both ways.
      expect(await verify('RAW', message, signature)).toBe(true);
      expect(await verify('DIGEST', sha256(message), signature)).toBe(true);
      expect(await verify('RAW', Buffer.from(`${MESSAGE}!`), signature)).toBe(false);
      expect(await verify('DIGEST', sha256(`${MESSAGE}!`), signature)).toBe(false);
      const altered = Buffer.from(signature, 'base64');
      altered[altered.length - 3] = (altered[altered.length - 3] ?? 0) ^ 0x80;
      expect(await verify('RAW', message, altered.toString('base64'))).toBe(false);
      expect(await verify('DIGEST', sha256(message), altered.toString('base64'))).toBe(false);
    }
  });

  test('answers errors with the cloud codes: 404 Certificate.NotFound, 400 InvalidParameter', async () => {
    const q = {
      CertificateId: rsa.id,
      Algorithm: 'RSA_PKCS1_SHA_256',
      MessageType: 'RAW',
      Message: message.toString('base64'),
      SignatureValue: 'AAAA',
    };
    await expectCloudError(() => kms('CertificatePublicKeyVerify', { ...q, CertificateId: 'no-such-cert' }), {
      statusCode: 404,
      code: 'Certificate.NotFound',
    });
    for (const over of [
      { Algorithm: 'ECDSA_SHA_256' },
      { Algorithm: 'SM2DSA' },
      { Algorithm: 'SHA256withRSA' },
      { SignatureValue: '%%%' },
      { MessageType: 'DIGEST' },
      { MessageType: 'HEX' },
    ]) {
      const e = await sdkError(() => kms('CertificatePublicKeyVerify', { ...q, ...over }));
      expect({ over, statusCode: e.statusCode, code: e.code }).toEqual({
        over,
        statusCode: 400,
        code: 'InvalidParameter',
      });
    }
    const unsigned: Record<string, string> = { ...q };
    delete unsigned.SignatureValue;
    const missing = await expectCloudError(() => kms('CertificatePublicKeyVerify', unsigned), {
      statusCode: 400,
      code: 'MissingParameter',
    });
    expect(missing.message).toContain('SignatureValue');
  });
});

describe('KMS GetCertificate and DescribeCertificate on provisioned certificates', () => {
  test('GetCertificate returns the certificate and its chain; there is no CSR', async () => {
    const res = await kms('GetCertificate', { CertificateId: ec.id });
    expect(res.body).toEqual({
      CertificateId: ec.id,
      Certificate: ec.certificatePem,
      CertificateChain: caPem,
      RequestId: res.body.RequestId,
    });
  });

  test('DescribeCertificate reports every field of the cloud model', async () => {
    const x = new X509Certificate(rsa.certificatePem);
    const res = await kms('DescribeCertificate', { CertificateId: rsa.id });
    const b = res.body;
    const date = (s: string): string => new Date(s).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(b).toMatchObject({
      Arn: `acs:kms:cn-hangzhou:1234567890123456:certificate/${rsa.id}`,
      CertificateId: rsa.id,
      NotBefore: date(x.validFrom),
      NotAfter: date(x.validTo),
      ExportablePrivateKey: false,
      Issuer: 'CN=p11bridge demo CA,O=p11bridge demo,C=CN',
      Subject: 'CN=p11bridge demo RSA_2048,O=p11bridge demo,C=CN',
      KeySpec: 'RSA_2048',
      Serial: x.serialNumber.toUpperCase(),
      SignatureAlgorithm: 'RSA2048-SHA256',
      Status: 'ACTIVE',
      SubjectAlternativeNames: [],
      SubjectPublicKey: x.publicKey.export({ type: 'spki', format: 'pem' }),
      Tags: {},
    });
    expect(String(b.NotBefore)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(String(b.SubjectKeyIdentifier)).toMatch(/^[0-9A-F]{2}( [0-9A-F]{2}){19}$/);
    // The same identifier as the certificate's extension, as openssl prints it (79:36:26:DE:…).
    const printed = openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier'], Buffer.from(rsa.certificatePem));
    expect(printed.status).toBe(0);
    expect(printed.output).toContain(String(b.SubjectKeyIdentifier).replace(/ /g, ':'));
    const ecDescribe = await kms('DescribeCertificate', { CertificateId: ec.id });
    expect(ecDescribe.body).toMatchObject({ KeySpec: 'EC_P256', SignatureAlgorithm: 'ECDSA-SHA256' });
  });

  test('an unknown CertificateId is 404 Certificate.NotFound for every KMS certificate operation', async () => {
    for (const action of [
      'GetCertificate',
      'DescribeCertificate',
      'UpdateCertificateStatus',
      'DeleteCertificate',
      'UploadCertificate',
      'CertificatePublicKeyEncrypt',
      'CertificatePrivateKeyDecrypt',
    ]) {
      const e = await sdkError(() =>
        kms(action, {
          CertificateId: 'no-such-cert',
          Status: 'ACTIVE',
          Certificate: rsa.certificatePem,
          Algorithm: 'RSAES_OAEP_SHA_1',
          Plaintext: 'AAAA',
          CiphertextBlob: 'AAAA',
        }),
      );
      expect({ action, statusCode: e.statusCode, code: e.code }).toEqual({
        action,
        statusCode: 404,
        code: 'Certificate.NotFound',
      });
    }
  });
});

describe('Encrypt and Decrypt refusals on the demo keys', () => {
  test('the demo signing keys neither encrypt nor decrypt: 400 InvalidParameter naming the certificate', async () => {
    const e = await expectCloudError(
      () =>
        cas3(t).encrypt(
          new EncryptRequest({ certIdentifier: rsa.id, algorithm: 'RSAES_OAEP_SHA_1', plaintext: 'hello' }),
        ),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    expect(e.message).toContain('CertIdentifier');
    const k = await expectCloudError(
      () =>
        kms('CertificatePublicKeyEncrypt', {
          CertificateId: rsa.id,
          Algorithm: 'RSAES_OAEP_SHA_1',
          Plaintext: 'aGVsbG8=',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    expect(k.message).toContain('CertificateId');
    await expectCloudError(
      () =>
        cas3(t).decrypt(
          new DecryptRequest({ certIdentifier: rsa.id, algorithm: 'RSAES_OAEP_SHA_1', ciphertextBlob: 'AAAA' }),
        ),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });

  test('an algorithm that does not fit the key, or is unknown, is 400 InvalidParameter naming Algorithm', async () => {
    for (const [id, algorithm] of [
      [ec.id, 'RSAES_OAEP_SHA_1'],
      [rsa.id, 'SM2PKE'],
      [rsa.id, 'RSAES_PKCS1_V1_5'],
    ] as const) {
      const e = await sdkError(() =>
        kms('CertificatePublicKeyEncrypt', { CertificateId: id, Algorithm: algorithm, Plaintext: 'aGVsbG8=' }),
      );
      expect({ algorithm, statusCode: e.statusCode, code: e.code }).toEqual({
        algorithm,
        statusCode: 400,
        code: 'InvalidParameter',
      });
      expect(e.message).toContain('Algorithm');
    }
  });

  test('the probe found what this token decrypts: OAEP with SHA-1 only (SoftHSM2 2.6.1)', () => {
    expect(d.daemon.tokens.tokens[0]?.capabilities.decryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1']);
  });
});

test('no error body leaks a PKCS#11 code or a stack', async () => {
  const res = await rawRequest(
    t.endpoint,
    v1Request(t, {
      action: 'CertificatePublicKeyVerify',
      version: '2016-01-20',
      params: { CertificateId: rsa.id, Algorithm: 'RSA_PKCS1_SHA_256', Message: 'AA==', SignatureValue: '!!' },
    }),
  );
  expect(res.status).toBe(400);
  const body = jsonOf(res);
  expect(body.Code).toBe('InvalidParameter');
  expect(res.body).not.toMatch(/CKR_|at .*\.ts:\d+/);
});
