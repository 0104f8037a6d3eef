/**
 * The gateway with the official clients (issue: gateway): every client generation signs with nothing but an
 * endpoint and credentials, and every error path reaches each SDK as the cloud's code with the cloud's HTTP
 * status (protocol §7, §8.5, §8.6). Hand-made requests (test/helpers/signRequest.ts over node:http) cover
 * what no SDK lets a caller do: an old date, a replayed nonce, Format=XML, a malformed URL.
 */
import { createHash } from 'node:crypto';
import { startTestDaemon, type TestCertificate, type TestDaemon } from '../helpers/daemon';
import {
  as,
  CAS_VERSION,
  cas13,
  cas13Sign,
  cas3,
  casSign,
  coreCaller,
  KMS_VERSION,
  pop,
  teaCaller,
  type Target,
} from '../helpers/clients';
import { acsDate, jsonOf, rawRequest, v1Request, v3Request, type RawResponse } from '../helpers/rawHttp';
import { expectCloudError } from '../helpers/sdkErrors';
import { nodeVerify } from '../helpers/verify';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;

/** A message no log line may ever contain, in the forms it travels in. */
const CANARY = 'p11bridge-e2e-canary-3f9c1d77-do-not-log';
const CANARY_B64 = Buffer.from(CANARY).toString('base64');

let d: Daemon;
let t: Target;
let rsa: TestCertificate;
let ec: TestCertificate;
/** Every body the daemon answered in this suite: none may leak a PKCS#11 code, a stack or a path. */
const bodies: string[] = [];

function record(res: RawResponse): RawResponse {
  bodies.push(res.body);
  return res;
}

function recordData(data: unknown): void {
  bodies.push(JSON.stringify(data));
}

function kmsQuery(cert: TestCertificate, over: Record<string, string> = {}): Record<string, string> {
  return {
    CertificateId: cert.id,
    Algorithm: cert.keySpec === 'EC_P256' ? 'ECDSA_SHA_256' : 'RSA_PKCS1_SHA_256',
    MessageType: 'RAW',
    Message: CANARY_B64,
    ...over,
  };
}

function casFields(
  cert: TestCertificate,
  over: Partial<Record<'message' | 'messageType' | 'signingAlgorithm', string>> = {},
) {
  return {
    certIdentifier: cert.id,
    message: CANARY,
    messageType: 'RAW',
    signingAlgorithm: cert.keySpec === 'EC_P256' ? 'SHA256withECDSA' : 'SHA256withRSA',
    ...over,
  };
}

/** The certificate's algorithm kind for verification. */
function kindOf(cert: TestCertificate): 'pkcs1' | 'ecdsa' {
  return cert.keySpec === 'EC_P256' ? 'ecdsa' : 'pkcs1';
}

/**
 * Restricts an extra key to some certificates after the start: the demo certificates' identifiers are random
 * and only known once `startTestDaemon` has provisioned the token, after the access keys were configured. The
 * resolved key shares the `certificates` array of the validated config (src/server.ts `resolveAccessKeys`);
 * the positive control in the test below fails loudly if that ever stops being true.
 */
function restrictCertificates(daemon: TestDaemon, accessKeyId: string, ids: string[]): void {
  const key = daemon.config.auth.accessKeys.find((k) => k.id === accessKeyId);
  if (!key) throw new Error(`no access key ${accessKeyId}`);
  const list = key.certificates as string[];
  list.splice(0, list.length, ...ids);
}

beforeAll(async () => {
  d = await startTestDaemon({
    extraKeys: [
      { name: 'disabled', enabled: false },
      { name: 'casOnly', actions: ['yundun-cert:Sign'] },
      { name: 'ecOnly' },
    ],
    // This suite proves the 15-minute skew window itself (a request 14 minutes old passes) on a daemon that has
    // just started; the memory window's start guard, which would refuse it, is proved in memoryWindow.e2e.test.ts.
    configure: (raw) => {
      const auth = raw.auth as Record<string, unknown>;
      auth.replay = { refuseSignedBeforeStart: false };
    },
  });
  t = d;
  const byspec = (spec: string): TestCertificate => {
    const c = d.certificates.find((x) => x.keySpec === spec);
    if (!c) throw new Error(`demo token has no ${spec} certificate`);
    return c;
  };
  rsa = byspec('RSA_2048');
  ec = byspec('EC_P256');
  restrictCertificates(d, d.extraKeys.ecOnly!.id, [ec.id]);
});

afterAll(async () => {
  await d?.stop();
});

describe('every official client signs with only an endpoint and credentials', () => {
  const data = Buffer.from(CANARY, 'utf8');

  test.each([
    ['V3 ACS3-HMAC-SHA256 (default)', undefined],
    ['V1 HMAC-SHA1 (signatureAlgorithm v2)', 'v2'],
    ['V3 ACS3-HMAC-SM3', 'ACS3-HMAC-SM3'],
  ] as const)('cas20200407 3.x signs with %s', async (_name, signatureAlgorithm) => {
    const client = cas3(t, signatureAlgorithm ? { signatureAlgorithm } : {});
    for (const cert of [rsa, ec]) {
      const body = await casSign(client, casFields(cert));
      expect(body.requestId).toMatch(/^[0-9A-F-]{36}$/);
      expect(nodeVerify(cert.certificatePem, kindOf(cert), data, Buffer.from(body.signature ?? '', 'base64'))).toBe(
        true,
      );
    }
  });

  test.each([
    ['V3 ACS3-HMAC-SHA256 (default)', undefined],
    ['V1 HMAC-SHA1 (signatureAlgorithm v2)', 'v2'],
  ] as const)('cas20200407 1.3.0 (openapi-client) signs with %s', async (_name, signatureAlgorithm) => {
    const client = cas13(t, signatureAlgorithm ? { signatureAlgorithm } : {});
    const body = await cas13Sign(client, casFields(rsa));
    expect(body.requestId).toBeTruthy();
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', data, Buffer.from(body.signature ?? '', 'base64'))).toBe(true);
  });

  test.each([
    ['openapi-core', 'V3', coreCaller, undefined],
    ['openapi-core', 'V1', coreCaller, 'v2'],
    ['openapi-client', 'V3', teaCaller, undefined],
    ['openapi-client', 'V1', teaCaller, 'v2'],
  ] as const)(
    'KMS CertificatePrivateKeySign through %s callApi (%s) answers with the x-acs-request-id header',
    async (_rt, _v, make, signatureAlgorithm) => {
      const call = make(t, signatureAlgorithm ? { signatureAlgorithm } : {});
      for (const cert of [rsa, ec]) {
        const res = await call('CertificatePrivateKeySign', kmsQuery(cert));
        expect(res.statusCode).toBe(200);
        expect(res.body.CertificateId).toBe(cert.id);
        expect(typeof res.body.RequestId).toBe('string');
        expect(res.headers['x-acs-request-id']).toBe(res.body.RequestId);
        expect(res.body).not.toHaveProperty('Code');
        const sig = Buffer.from(String(res.body.SignatureValue), 'base64');
        expect(nodeVerify(cert.certificatePem, kindOf(cert), data, sig)).toBe(true);
      }
    },
  );

  test.each(['GET', 'POST'] as const)('pop-core %s signs through KMS and CAS', async (method) => {
    const kms = await pop(t, KMS_VERSION).request('CertificatePrivateKeySign', kmsQuery(ec), method);
    expect(kms.status).toBe(200);
    expect(kms.body.RequestId).toBeTruthy();
    expect(nodeVerify(ec.certificatePem, 'ecdsa', data, Buffer.from(String(kms.body.SignatureValue), 'base64'))).toBe(
      true,
    );

    const cas = await pop(t, CAS_VERSION).request(
      'Sign',
      { CertIdentifier: rsa.id, Message: CANARY, MessageType: 'RAW', SigningAlgorithm: 'SHA256withRSA' },
      method,
    );
    expect(cas.status).toBe(200);
    expect(cas.body.RequestId).toBeTruthy();
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', data, Buffer.from(String(cas.body.Signature), 'base64'))).toBe(true);
  });

  test('a raw request sees the RequestId of the body in the x-acs-request-id header, on success and on error', async () => {
    const ok = record(
      await rawRequest(
        t.endpoint,
        v1Request(t, { action: 'CertificatePrivateKeySign', version: KMS_VERSION, params: kmsQuery(rsa) }),
      ),
    );
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json;charset=utf-8');
    expect(ok.headers['x-acs-request-id']).toBe(jsonOf(ok).RequestId);

    const bad = record(
      await rawRequest(
        t.endpoint,
        v3Request(t, {
          action: 'CertificatePrivateKeySign',
          version: KMS_VERSION,
          query: kmsQuery(rsa, { CertificateId: 'no-such-cert' }),
        }),
      ),
    );
    expect(bad.status).toBe(404);
    expect(jsonOf(bad)).toMatchObject({ Code: 'Certificate.NotFound', RequestId: bad.headers['x-acs-request-id'] });
  });
});

describe('authentication errors reach the SDKs with the cloud status and code', () => {
  test('rejects a wrong AccessKeySecret with 400 SignatureDoesNotMatch (V3, V1 and pop-core)', async () => {
    const wrong = { ...t, accessKeySecret: `${t.accessKeySecret}x` };
    const v3 = await expectCloudError(() => casSign(cas3(wrong), casFields(rsa)), {
      name: 'ClientError',
      statusCode: 400,
      code: 'SignatureDoesNotMatch',
    });
    await expectCloudError(
      () => coreCaller(wrong, { signatureAlgorithm: 'v2' })('CertificatePrivateKeySign', kmsQuery(rsa)),
      { statusCode: 400, code: 'SignatureDoesNotMatch' },
    );
    await expectCloudError(() => pop(wrong, KMS_VERSION).request('CertificatePrivateKeySign', kmsQuery(rsa)), {
      name: 'SignatureDoesNotMatchError',
      code: 'SignatureDoesNotMatch',
      statusCode: 400,
    });
    recordData(v3.data);
  });

  test('rejects an unknown AccessKeyId with 404 InvalidAccessKeyId.NotFound', async () => {
    const unknown = { ...t, accessKeyId: 'LTAI5tNOSUCHKEY000000000' };
    await expectCloudError(() => casSign(cas3(unknown), casFields(rsa)), {
      statusCode: 404,
      code: 'InvalidAccessKeyId.NotFound',
    });
    await expectCloudError(() => cas13Sign(cas13(unknown), casFields(rsa)), {
      statusCode: 404,
      code: 'InvalidAccessKeyId.NotFound',
    });
    await expectCloudError(
      () =>
        pop(unknown, CAS_VERSION).request('Sign', {
          CertIdentifier: rsa.id,
          Message: 'x',
          MessageType: 'RAW',
          SigningAlgorithm: 'SHA256withRSA',
        }),
      { code: 'InvalidAccessKeyId.NotFound', statusCode: 404 },
    );
  });

  test('rejects a disabled AccessKey with 400 InvalidAccessKeyId.Inactive', async () => {
    const disabled = as(t, d.extraKeys.disabled!);
    await expectCloudError(() => coreCaller(disabled)('CertificatePrivateKeySign', kmsQuery(rsa)), {
      statusCode: 400,
      code: 'InvalidAccessKeyId.Inactive',
    });
    await expectCloudError(() => casSign(cas3(disabled, { signatureAlgorithm: 'v2' }), casFields(rsa)), {
      statusCode: 400,
      code: 'InvalidAccessKeyId.Inactive',
    });
  });

  test('rejects a request whose Timestamp is 16 minutes old with 400 InvalidTimeStamp.Expired (V1 and V3)', async () => {
    const old = acsDate(-16 * 60 * 1000);
    const v1 = record(
      await rawRequest(
        t.endpoint,
        v1Request(t, {
          action: 'CertificatePrivateKeySign',
          version: KMS_VERSION,
          params: kmsQuery(rsa),
          timestamp: old,
        }),
      ),
    );
    expect(v1.status).toBe(400);
    expect(jsonOf(v1).Code).toBe('InvalidTimeStamp.Expired');
    const v3 = record(
      await rawRequest(
        t.endpoint,
        v3Request(t, {
          action: 'Sign',
          version: CAS_VERSION,
          query: { CertIdentifier: rsa.id, Message: 'x', MessageType: 'RAW', SigningAlgorithm: 'SHA256withRSA' },
          date: old,
        }),
      ),
    );
    expect(v3.status).toBe(400);
    expect(jsonOf(v3).Code).toBe('InvalidTimeStamp.Expired');
    // Fourteen minutes is inside the 15-minute window.
    const inside = record(
      await rawRequest(
        t.endpoint,
        v3Request(t, {
          action: 'CertificatePrivateKeySign',
          version: KMS_VERSION,
          query: kmsQuery(rsa),
          date: acsDate(-14 * 60 * 1000),
        }),
      ),
    );
    expect(inside.status).toBe(200);
  });

  test('rejects the second of two identical signed requests with 400 SignatureNonceUsed (V1 and V3)', async () => {
    const v1 = v1Request(t, { action: 'CertificatePrivateKeySign', version: KMS_VERSION, params: kmsQuery(ec) });
    expect(record(await rawRequest(t.endpoint, v1)).status).toBe(200);
    const again = record(await rawRequest(t.endpoint, v1));
    expect(again.status).toBe(400);
    expect(jsonOf(again).Code).toBe('SignatureNonceUsed');

    const v3 = v3Request(t, { action: 'CertificatePrivateKeySign', version: KMS_VERSION, query: kmsQuery(ec) });
    expect(record(await rawRequest(t.endpoint, v3)).status).toBe(200);
    const again3 = record(await rawRequest(t.endpoint, v3));
    expect(again3.status).toBe(400);
    expect(jsonOf(again3).Code).toBe('SignatureNonceUsed');
  });

  test('rejects an STS security token with 400 InvalidSecurityToken.Malformed', async () => {
    await expectCloudError(() => casSign(cas3(t, { securityToken: 'CAIS.test-security-token+/=' }), casFields(rsa)), {
      name: 'ClientError',
      statusCode: 400,
      code: 'InvalidSecurityToken.Malformed',
    });
    await expectCloudError(
      () => casSign(cas3(t, { securityToken: 'CAIS.test', signatureAlgorithm: 'v2' }), casFields(rsa)),
      { statusCode: 400, code: 'InvalidSecurityToken.Malformed' },
    );
  });
});

describe('routing and parameter errors', () => {
  test('answers an unknown action with 404 InvalidAction.NotFound', async () => {
    await expectCloudError(() => coreCaller(t)('NoSuchAction', {}), {
      statusCode: 404,
      code: 'InvalidAction.NotFound',
    });
    await expectCloudError(() => teaCaller(t, { signatureAlgorithm: 'v2' })('NoSuchAction', {}, CAS_VERSION), {
      statusCode: 404,
      code: 'InvalidAction.NotFound',
    });
  });

  test('answers a known action under a wrong Version with 400 InvalidVersion', async () => {
    await expectCloudError(() => coreCaller(t)('CertificatePrivateKeySign', kmsQuery(rsa), '2099-01-01'), {
      statusCode: 400,
      code: 'InvalidVersion',
    });
    await expectCloudError(() => pop(t, '2014-05-26').request('CertificatePrivateKeySign', kmsQuery(rsa)), {
      code: 'InvalidVersion',
      statusCode: 400,
    });
  });

  test('answers CertificatePrivateKeySign without Message with 400 MissingParameter naming Message', async () => {
    const noMessage = kmsQuery(rsa);
    delete noMessage.Message;
    const e = await expectCloudError(() => coreCaller(t)('CertificatePrivateKeySign', noMessage), {
      statusCode: 400,
      code: 'MissingParameter',
    });
    expect(e.message).toContain('Message');
    expect(e.data?.Message).toBe('Message is mandatory for this action.');
    await expectCloudError(() => pop(t, KMS_VERSION).request('CertificatePrivateKeySign', noMessage, 'POST'), {
      code: 'MissingParameter',
      statusCode: 400,
    });
    recordData(e.data);
  });

  test('a 20 KiB Message in the URL gets a clean 400 InvalidParameter (RAW > 4 KB), not 431', async () => {
    const big = Buffer.alloc(15 * 1024, 0x61).toString('base64');
    expect(big.length).toBeGreaterThanOrEqual(20 * 1024);
    const e = await expectCloudError(
      () => coreCaller(t)('CertificatePrivateKeySign', kmsQuery(rsa, { Message: big })),
      { name: 'ClientError', statusCode: 400, code: 'InvalidParameter' },
    );
    expect(e.message).toContain('4096');
    // The same 20 KiB through CAS (V1, every common parameter in the URL too): read in full, then refused.
    await expectCloudError(
      () => casSign(cas3(t, { signatureAlgorithm: 'v2' }), casFields(rsa, { message: 'a'.repeat(20 * 1024) })),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });

  test('a malformed percent-encoding in the URL gets a JSON error, not a stack trace', async () => {
    const res = record(await rawRequest(t.endpoint, { path: '/?%E0%A4%A' }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toBe('application/json;charset=utf-8');
    const body = jsonOf(res);
    expect(typeof body.Code).toBe('string');
    expect(body.RequestId).toBe(res.headers['x-acs-request-id']);
    const post = record(
      await rawRequest(t.endpoint, {
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'Action=%ZZ&&=',
      }),
    );
    expect(post.status).toBe(400);
    expect(typeof jsonOf(post).Code).toBe('string');
  });

  test('an unsigned request gets 400 IncompleteSignature in JSON', async () => {
    const res = record(await rawRequest(t.endpoint, { path: '/?Action=CertificatePrivateKeySign&Version=2016-01-20' }));
    expect(res.status).toBe(400);
    expect(jsonOf(res).Code).toBe('IncompleteSignature');
  });
});

describe('permissions', () => {
  test('a key allowed only yundun-cert:Sign calling KMS gets 403 Forbidden.RAM with AccessDeniedDetail.AuthAction', async () => {
    const casOnly = as(t, d.extraKeys.casOnly!);
    const e = await expectCloudError(() => coreCaller(casOnly)('CertificatePrivateKeySign', kmsQuery(rsa)), {
      name: 'ClientError',
      statusCode: 403,
      code: 'Forbidden.RAM',
    });
    expect(e.accessDeniedDetail?.AuthAction).toBe('kms:CertificatePrivateKeySign');
    const e1 = await expectCloudError(
      () => teaCaller(casOnly, { signatureAlgorithm: 'v2' })('CertificatePrivateKeySign', kmsQuery(rsa)),
      { statusCode: 403, code: 'Forbidden.RAM' },
    );
    expect(e1.accessDeniedDetail?.AuthAction).toBe('kms:CertificatePrivateKeySign');
    // The same key may call CAS Sign.
    const ok = await casSign(cas3(casOnly), casFields(rsa));
    expect(ok.signature).toBeTruthy();
    recordData(e.data);
  });

  test('a key limited to the EC certificate gets 403 Forbidden.RAM signing with the RSA certificate', async () => {
    const ecOnly = as(t, d.extraKeys.ecOnly!);
    // Positive control: the EC certificate is allowed.
    const ok = await coreCaller(ecOnly)('CertificatePrivateKeySign', kmsQuery(ec));
    expect(ok.statusCode).toBe(200);
    const kms = await expectCloudError(() => coreCaller(ecOnly)('CertificatePrivateKeySign', kmsQuery(rsa)), {
      statusCode: 403,
      code: 'Forbidden.RAM',
    });
    expect(kms.accessDeniedDetail?.AuthAction).toBe('kms:CertificatePrivateKeySign');
    const cas = await expectCloudError(() => casSign(cas3(ecOnly), casFields(rsa)), {
      statusCode: 403,
      code: 'Forbidden.RAM',
    });
    expect(cas.accessDeniedDetail?.AuthAction).toBe('yundun-cert:Sign');
    await expectCloudError(
      () =>
        pop(ecOnly, CAS_VERSION).request('Sign', {
          CertIdentifier: rsa.id,
          Message: 'x',
          MessageType: 'RAW',
          SigningAlgorithm: 'SHA256withRSA',
        }),
      { name: 'Forbidden.RAMError', code: 'Forbidden.RAM', statusCode: 403 },
    );
  });
});

describe('Format=XML', () => {
  const XML = 'text/xml;charset=utf-8';

  test('a V1 CAS Sign with Format=XML answers <SignResponse> as text/xml;charset=utf-8', async () => {
    const res = record(
      await rawRequest(
        t.endpoint,
        v1Request(t, {
          action: 'Sign',
          version: CAS_VERSION,
          format: 'XML',
          params: { CertIdentifier: rsa.id, Message: CANARY, MessageType: 'RAW', SigningAlgorithm: 'SHA256withRSA' },
        }),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(XML);
    expect(res.body).toMatch(
      /^<\?xml version='1\.0' encoding='UTF-8'\?><SignResponse><Signature>[A-Za-z0-9+/=]+<\/Signature><RequestId>[0-9A-F-]+<\/RequestId><\/SignResponse>$/,
    );
    const sig = /<Signature>([^<]+)<\/Signature>/.exec(res.body)?.[1] ?? '';
    expect(nodeVerify(rsa.certificatePem, 'pkcs1', Buffer.from(CANARY), Buffer.from(sig, 'base64'))).toBe(true);
  });

  test('a V1 KMS call with Format=xml answers <CertificatePrivateKeySignResponse>', async () => {
    const res = record(
      await rawRequest(
        t.endpoint,
        v1Request(t, {
          action: 'CertificatePrivateKeySign',
          version: KMS_VERSION,
          format: 'xml',
          params: kmsQuery(ec),
          method: 'POST',
        }),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(XML);
    expect(res.body).toContain('<CertificatePrivateKeySignResponse>');
    expect(res.body).toContain(`<CertificateId>${ec.id}</CertificateId>`);
    expect(res.body).toMatch(/<SignatureValue>[A-Za-z0-9+/=]+<\/SignatureValue>/);
  });

  test('an error with Format=XML is <Error> with its <Code>, in text/xml;charset=utf-8', async () => {
    const res = record(
      await rawRequest(
        t.endpoint,
        v1Request(t, {
          action: 'Sign',
          version: CAS_VERSION,
          format: 'XML',
          params: {
            CertIdentifier: 'no-such-cert',
            Message: 'x',
            MessageType: 'RAW',
            SigningAlgorithm: 'SHA256withRSA',
          },
        }),
      ),
    );
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe(XML);
    expect(res.body).toMatch(/^<\?xml version='1\.0' encoding='UTF-8'\?><Error>/);
    expect(res.body).toContain('<Code>NotFound</Code>');
    expect(res.body).toContain(`<RequestId>${String(res.headers['x-acs-request-id'])}</RequestId>`);
    // Authentication failures are rendered in the requested format too.
    const wrong = { ...t, accessKeySecret: 'nope' };
    const auth = record(
      await rawRequest(
        t.endpoint,
        v1Request(wrong, { action: 'Sign', version: CAS_VERSION, format: 'XML', params: {} }),
      ),
    );
    expect(auth.status).toBe(400);
    expect(auth.headers['content-type']).toBe(XML);
    expect(auth.body).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  test('openapi-core V3 parses an XML error (Format=XML in the query) into a ClientError with the code', async () => {
    const e = await expectCloudError(
      () => coreCaller(t)('CertificatePrivateKeySign', kmsQuery(rsa, { CertificateId: 'no-such-cert', Format: 'XML' })),
      { name: 'ClientError', statusCode: 404, code: 'Certificate.NotFound' },
    );
    expect(e.message).toContain('The specified certificate is not found.');
    await expectCloudError(
      () => teaCaller(t)('CertificatePrivateKeySign', kmsQuery(rsa, { CertificateId: 'no-such-cert', Format: 'XML' })),
      { statusCode: 404, code: 'Certificate.NotFound' },
    );
  });
});

describe('health and hygiene', () => {
  test('/healthz and /readyz answer 200', async () => {
    const health = await rawRequest(t.endpoint, { path: '/healthz' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    const ready = await rawRequest(t.endpoint, { path: '/readyz' });
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready' });
  });

  test('no answer body contains a PKCS#11 code, a stack frame or a filesystem path', async () => {
    // A few more error shapes, on top of everything recorded above.
    for (const query of [
      kmsQuery(rsa, { Algorithm: 'ECDSA_SHA_256' }),
      kmsQuery(rsa, { Message: '!!!' }),
      kmsQuery(rsa, { MessageType: 'DIGEST', Message: Buffer.alloc(31).toString('base64') }),
      kmsQuery(ec, { Algorithm: 'SM2DSA' }),
    ]) {
      record(
        await rawRequest(
          t.endpoint,
          v3Request(t, { action: 'CertificatePrivateKeySign', version: KMS_VERSION, query }),
        ),
      );
    }
    expect(bodies.length).toBeGreaterThan(20);
    for (const body of bodies) {
      expect(body).not.toContain('CKR_');
      expect(body).not.toMatch(/\bat [\w.<>$[\] ]+ \(/);
      expect(body).not.toMatch(/\(?\/[\w.-]+\/[\w./-]+:\d+:\d+\)?/);
      expect(body).not.toMatch(/\/(tmp|work|home|usr|root)\//);
      expect(body).not.toContain(d.token.dir);
      expect(body).not.toContain('node_modules');
    }
  });

  test('the log never contains the AccessKeySecret, the token PIN or a signed message', () => {
    const log = d.logText();
    expect(log).toContain('"msg":"request"');
    for (const secret of [
      t.accessKeySecret,
      ...Object.values(d.extraKeys).map((k) => k.secret),
      d.token.pin,
      d.token.soPin,
    ]) {
      expect(log).not.toContain(secret);
    }
    expect(log).not.toContain(CANARY);
    expect(log).not.toContain(CANARY_B64);
    expect(log).not.toContain(createHash('sha256').update(CANARY).digest('base64'));
  });
});
