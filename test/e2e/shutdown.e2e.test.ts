import { verify } from 'node:crypto';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { signedPost } from '../helpers/rawClient';

describe('graceful shutdown and health (daemon over HTTP)', () => {
  let d: TestDaemon;

  beforeAll(async () => {
    // One session: accepted requests queue for the token, so a stop lands while many are still in flight.
    d = await startTestDaemon({
      configure: (raw) => {
        const t = (raw.tokens as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
        t.sessions = { size: 1, maxWaiting: 1000, acquireTimeoutMs: 30000 };
      },
    });
  });

  afterAll(async () => {
    await d.stop();
  });

  it('answers /healthz and /readyz with 200 while the token is ready', async () => {
    const health = await fetch(`http://${d.endpoint}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://${d.endpoint}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', tokens: [{ warehouseId: 1, ready: true }] });
  });

  it('finishes every request already accepted when it is told to stop, then refuses new connections', async () => {
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA certificate');
    const creds = { accessKeyId: d.accessKeyId, secret: d.accessKeySecret };
    const message = Buffer.from('accepted before shutdown');
    const count = 120;
    let answered = 0;
    const inflight = Array.from({ length: count }, () =>
      signedPost(d.endpoint, creds, 'CertificatePrivateKeySign', '2016-01-20', {
        CertificateId: rsa.id,
        Algorithm: 'RSA_PKCS1_SHA_256',
        MessageType: 'RAW',
        Message: message.toString('base64'),
      }).finally(() => answered++),
    );
    // Stop once the server has received every request (each is in flight there or answered).
    const deadline = Date.now() + 20000;
    while (d.daemon.inflight() + answered < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    const stillInFlight = d.daemon.inflight();
    const stopped = d.daemon.stop();
    const results = await Promise.all(inflight);
    await stopped;
    expect(stillInFlight).toBeGreaterThan(10);
    for (const r of results) {
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body) as { SignatureValue: string };
      expect(verify('sha256', message, rsa.certificatePem, Buffer.from(body.SignatureValue, 'base64'))).toBe(true);
    }
    await expect(fetch(`http://${d.endpoint}/healthz`)).rejects.toThrow();
  });
});
