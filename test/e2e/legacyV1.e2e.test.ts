/**
 * Legacy V1 clients (issue 13 item 6): KMS does not list SignatureNonce among its common parameters and the legacy
 * `@alicloud/kms-sdk` never sends one (it is not in the npm registry this project can reach, so its request is
 * rebuilt here field by field). Refused by default; served with `auth.allowV1WithoutNonce`, timestamp window only.
 */
import { createHmac } from 'node:crypto';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { coreCaller, KMS_VERSION } from '../helpers/clients';
import { acsDate, jsonOf, rawRequest } from '../helpers/rawHttp';

/** RFC 3986 encoding as Alibaba's V1 clients do it. */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A V1 GET as the legacy `@alicloud/kms-sdk` (aliyun/nodejs-kms-sdk `lib/kms_base.js`) builds it: Format, Version,
 * AccessKeyId, SignatureMethod, SignatureVersion, Timestamp and the action's parameters, no SignatureNonce. The
 * HMAC-SHA1 is computed here with node:crypto, independently of the daemon's signer.
 */
function legacyKmsRequest(t: TestDaemon, action: string, params: Record<string, string>, timestamp = acsDate()) {
  const all: Record<string, string> = {
    Format: 'JSON',
    Version: KMS_VERSION,
    AccessKeyId: t.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    Timestamp: timestamp,
    Action: action,
    ...params,
  };
  const canonical = Object.keys(all)
    .sort()
    .map((k) => `${encode(k)}=${encode(all[k] ?? '')}`)
    .join('&');
  const signature = createHmac('sha1', `${t.accessKeySecret}&`)
    .update(`GET&${encode('/')}&${encode(canonical)}`)
    .digest('base64');
  return rawRequest(t.endpoint, { path: `/?${canonical}&Signature=${encode(signature)}` });
}

// One daemon at a time: a process holds one SoftHSM2 configuration, so the two describes run one after the other.
describe('V1 requests without SignatureNonce, by default', () => {
  let d: TestDaemon;

  beforeAll(async () => {
    d = await startTestDaemon();
  });

  afterAll(async () => {
    await d.stop();
  });

  test('are refused with 400 IncompleteSignature naming SignatureNonce', async () => {
    const res = await legacyKmsRequest(d, 'DescribeCertificate', { CertificateId: d.certificates[0]?.id ?? '' });
    expect(res.status).toBe(400);
    expect(jsonOf(res)).toMatchObject({ Code: 'IncompleteSignature' });
    expect(String(jsonOf(res).Message)).toContain('SignatureNonce');
  });
});

describe('V1 requests without SignatureNonce', () => {
  describe('with auth.allowV1WithoutNonce: true', () => {
    let legacy: TestDaemon;

    beforeAll(async () => {
      legacy = await startTestDaemon({
        configure: (raw) => {
          (raw.auth as Record<string, unknown>).allowV1WithoutNonce = true;
        },
      });
    });

    afterAll(async () => {
      await legacy.stop();
    });

    test('are served, and a signature that does not match is still refused', async () => {
      const id = legacy.certificates[0]?.id ?? '';
      const res = await legacyKmsRequest(legacy, 'DescribeCertificate', { CertificateId: id });
      expect(res.status).toBe(200);
      expect(jsonOf(res)).toMatchObject({ CertificateId: id, Status: 'ACTIVE' });
      const forged = await legacyKmsRequest({ ...legacy, accessKeySecret: 'wrong' }, 'DescribeCertificate', {
        CertificateId: id,
      });
      expect(jsonOf(forged)).toMatchObject({ Code: 'SignatureDoesNotMatch' });
    });

    test('are refused outside the timestamp window, their only replay protection', async () => {
      const old = acsDate(-16 * 60 * 1000);
      const res = await legacyKmsRequest(legacy, 'DescribeCertificate', { CertificateId: 'x' }, old);
      expect(res.status).toBe(400);
      expect(jsonOf(res)).toMatchObject({ Code: 'InvalidTimeStamp.Expired' });
    });

    test('a request with a nonce still has it checked: a replayed nonce is SignatureNonceUsed', async () => {
      const kms = coreCaller(legacy, { signatureAlgorithm: 'v2' });
      await expect(kms('DescribeCertificate', { CertificateId: legacy.certificates[0]?.id })).resolves.toBeTruthy();
      const nonce = 'fixed-nonce-for-replay';
      const once = await legacyKmsRequest(legacy, 'DescribeCertificate', {
        CertificateId: legacy.certificates[0]?.id ?? '',
        SignatureNonce: nonce,
      });
      expect(once.status).toBe(200);
      const twice = await legacyKmsRequest(legacy, 'DescribeCertificate', {
        CertificateId: legacy.certificates[0]?.id ?? '',
        SignatureNonce: nonce,
      });
      expect(jsonOf(twice)).toMatchObject({ Code: 'SignatureNonceUsed' });
    });
  });
});
