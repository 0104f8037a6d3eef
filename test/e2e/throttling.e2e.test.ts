import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { signedPost } from '../helpers/rawClient';
import { cas3, casSign } from '../helpers/sdk';

describe('a full session wait queue (daemon over HTTP)', () => {
  let d: TestDaemon;

  beforeAll(async () => {
    // One session and no waiting room: a second concurrent request is refused at once.
    d = await startTestDaemon({
      configure: (raw) => {
        const t = (raw.tokens as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
        t.sessions = { size: 1, maxWaiting: 0, acquireTimeoutMs: 1000 };
      },
    });
  });

  afterAll(async () => {
    await d.stop();
  });

  it('refuses excess requests at once with 400 Throttling.User and x-acs-retry-after, and serves the rest', async () => {
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA certificate');
    const creds = { accessKeyId: d.accessKeyId, secret: d.accessKeySecret };
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        signedPost(d.endpoint, creds, 'CertificatePrivateKeySign', '2016-01-20', {
          CertificateId: rsa.id,
          Algorithm: 'RSA_PKCS1_SHA_256',
          MessageType: 'RAW',
          Message: Buffer.from('busy').toString('base64'),
        }),
      ),
    );
    const refused = results.filter((r) => r.status !== 200);
    expect(results.some((r) => r.status === 200)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ Code: 'Throttling.User' });
      expect(r.headers['x-acs-retry-after']).toBe('100');
    }
  });

  it('is surfaced by openapi-core as a ThrottlingError', async () => {
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA certificate');
    const client = cas3(d);
    const settled = await Promise.allSettled(
      Array.from({ length: 30 }, () =>
        casSign(client, {
          certIdentifier: rsa.id,
          message: 'busy',
          messageType: 'RAW',
          signingAlgorithm: 'SHA256withRSA',
        }),
      ),
    );
    const errors = settled.flatMap((s) =>
      s.status === 'rejected' ? [s.reason as Error & { code?: string; retryAfter?: number }] : [],
    );
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.name).toBe('ThrottlingError');
      expect(e.code).toBe('Throttling.User');
      expect(e.retryAfter).toBe(100);
    }
  });
});
