import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { KMS_VERSION } from '../helpers/clients';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { acsDate } from '../helpers/rawClient';
import { signV3Request } from '../helpers/signRequest';

function post(
  port: number,
  signed: { path: string; headers: Record<string, string> },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: signed.path, headers: signed.headers },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the memory replay window across a restart', () => {
  let d: TestDaemon;
  let before: number;

  beforeAll(async () => {
    // A request captured before the daemon started: the previous process may have accepted it.
    before = Date.now() - 2000;
    d = await startTestDaemon();
  });
  afterAll(() => d?.stop());

  const sign = (date: string) =>
    signV3Request({
      method: 'POST',
      host: d.endpoint,
      query: { CertificateId: d.certificates.find((c) => c.keySpec === 'EC_P256')?.id ?? '' },
      action: 'DescribeCertificate',
      version: KMS_VERSION,
      accessKeyId: d.accessKeyId,
      secret: d.accessKeySecret,
      date,
      nonce: randomUUID(),
    });

  it('refuses a request signed before the daemon started with InvalidTimeStamp.Expired', async () => {
    const a = await post(d.port, sign(acsDate(before)));
    expect([a.status, a.body.Code]).toEqual([400, 'InvalidTimeStamp.Expired']);
    expect(String(a.body.Message)).toMatch(/earlier than the start of this server's replay protection/);
  });

  it('accepts a request signed now, from the first moment the daemon listens', async () => {
    const a = await post(d.port, sign(acsDate()));
    expect(a.status).toBe(200);
  });
});
