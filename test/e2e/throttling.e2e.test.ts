import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { signedPost } from '../helpers/rawClient';
import { cas3, casSign, coreCaller, kmsRpc, pop, KMS_VERSION } from '../helpers/clients';
import { sdkError, type SurfacedError, expectCloudError } from '../helpers/sdkErrors';

/** Thirty concurrent calls of `call`; the errors of those refused. */
async function burst(call: () => Promise<unknown>): Promise<SurfacedError[]> {
  const settled = await Promise.all(Array.from({ length: 30 }, () => sdkError(call).catch(() => undefined)));
  return settled.filter((e): e is SurfacedError => e !== undefined);
}

describe('a full session wait queue (daemon over HTTP)', () => {
  let d: TestDaemon;
  let rsaId: string;
  const kmsSignQuery = (): Record<string, string> => ({
    CertificateId: rsaId,
    Algorithm: 'RSA_PKCS1_SHA_256',
    MessageType: 'RAW',
    Message: Buffer.from('busy').toString('base64'),
  });

  beforeAll(async () => {
    // One session and no waiting room: a second concurrent request is refused at once.
    d = await startTestDaemon({
      configure: (raw) => {
        const t = (raw.tokens as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
        t.sessions = { size: 1, maxWaiting: 0, acquireTimeoutMs: 1000 };
      },
    });
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA certificate');
    rsaId = rsa.id;
  });

  afterAll(async () => {
    await d.stop();
  });

  it('refuses excess KMS requests at once with 400 Rejected.Throttling ("QPS Limit Exceeded") and x-acs-retry-after', async () => {
    const creds = { accessKeyId: d.accessKeyId, secret: d.accessKeySecret };
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        signedPost(d.endpoint, creds, 'CertificatePrivateKeySign', KMS_VERSION, kmsSignQuery()),
      ),
    );
    const refused = results.filter((r) => r.status !== 200);
    expect(results.some((r) => r.status === 200)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ Code: 'Rejected.Throttling', Message: 'QPS Limit Exceeded' });
      expect(r.headers['x-acs-retry-after']).toBe('100');
    }
  });

  it('is surfaced for KMS by openapi-core as a ThrottlingError with code Rejected.Throttling', async () => {
    const kms = coreCaller(d);
    const errors = await burst(() => kms('CertificatePrivateKeySign', kmsSignQuery()));
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatchObject({ name: 'ThrottlingError', code: 'Rejected.Throttling' });
  });

  it('is surfaced by @alicloud/kms20160120 (rpc-client) and pop-core as Rejected.ThrottlingError', async () => {
    const kms = kmsRpc(d);
    const fromKmsSdk = await burst(() => kms('CertificatePrivateKeySign', kmsSignQuery()));
    expect(fromKmsSdk.length).toBeGreaterThan(0);
    for (const e of fromKmsSdk) {
      expect(e.code).toBe('Rejected.ThrottlingError');
      expect(e.data).toMatchObject({ Code: 'Rejected.Throttling' });
    }
    const popKms = pop(d, KMS_VERSION);
    const fromPop = await burst(() => popKms.request('CertificatePrivateKeySign', kmsSignQuery(), 'POST'));
    expect(fromPop.length).toBeGreaterThan(0);
    for (const e of fromPop) expect(e).toMatchObject({ name: 'Rejected.ThrottlingError', statusCode: 400 });
  });

  it('keeps the gateway code for CAS: openapi-core surfaces 400 Throttling.User as a ThrottlingError', async () => {
    const client = cas3(d);
    const errors = (
      await Promise.allSettled(
        Array.from({ length: 30 }, () =>
          casSign(client, {
            certIdentifier: rsaId,
            message: 'busy',
            messageType: 'RAW',
            signingAlgorithm: 'SHA256withRSA',
          }),
        ),
      )
    ).flatMap((s) => (s.status === 'rejected' ? [s.reason as Error & { code?: string; retryAfter?: number }] : []));
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.name).toBe('ThrottlingError');
      expect(e.code).toBe('Throttling.User');
      expect(e.retryAfter).toBe(100);
    }
  });
});

describe('a token that is out of service (daemon over HTTP)', () => {
  let d: TestDaemon;

  beforeAll(async () => {
    d = await startTestDaemon();
    // Closing the token is a real outage: every private-key call now finds no session to borrow.
    await d.daemon.tokens.tokens[0]?.close();
  });

  afterAll(async () => {
    await d.stop();
  });

  it('answers KMS with 503 ServiceUnavailableTemporary and CAS with 503 ServiceUnavailable', async () => {
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA certificate');
    const kms = await sdkError(() =>
      kmsRpc(d)('CertificatePrivateKeySign', {
        CertificateId: rsa.id,
        Algorithm: 'RSA_PKCS1_SHA_256',
        MessageType: 'RAW',
        Message: 'aGk=',
      }),
    );
    expect(kms.code).toBe('ServiceUnavailableTemporaryError');
    expect(kms.data).toMatchObject({ Code: 'ServiceUnavailableTemporary' });
    await expectCloudError(
      () =>
        casSign(cas3(d), {
          certIdentifier: rsa.id,
          message: 'hi',
          messageType: 'RAW',
          signingAlgorithm: 'SHA256withRSA',
        }),
      { statusCode: 503, code: 'ServiceUnavailable' },
    );
  });
});
