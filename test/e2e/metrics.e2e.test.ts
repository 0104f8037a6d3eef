import { createPublicKey, verify } from 'node:crypto';
import { request } from 'node:http';
import { coreCaller, as, KMS_VERSION } from '../helpers/clients';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { promtoolCheck, scrape } from '../helpers/prometheus';
import { signedPost } from '../helpers/rawClient';

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics after a known sequence of calls (daemon over HTTP, official SDK)', () => {
  let d: TestDaemon & { extraKeys: Record<string, { id: string; secret: string }> };
  let metricsPort: number;
  let rsaId: string;
  let rsaPem: string;
  const signQuery = (id: string, text: string): Record<string, string> => ({
    CertificateId: id,
    Algorithm: 'RSA_PKCS1_SHA_256',
    MessageType: 'RAW',
    Message: Buffer.from(text).toString('base64'),
  });

  beforeAll(async () => {
    d = await startTestDaemon({
      // A key with a bucket of one request and a slow refill: its second call in a row is throttled.
      extraKeys: [{ name: 'slow' }],
      configure: (raw) => {
        raw.metrics = { enabled: true, port: 0 };
        // No call on a loaded CI machine may count as slow: the health gauge is asserted ACTIVE below.
        const token = (raw.tokens as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
        token.health = { slowCallMs: 60_000 };
        const keys = (raw.auth as { accessKeys: Array<Record<string, unknown>> }).accessKeys;
        const slow = keys[1] as Record<string, unknown>;
        slow.qps = 0.01;
        slow.burst = 1;
      },
    });
    metricsPort = d.daemon.metricsPort ?? 0;
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    if (!rsa) throw new Error('no RSA certificate');
    rsaId = rsa.id;
    rsaPem = rsa.certificatePem;
  });

  afterAll(async () => {
    await d.stop();
  });

  it('counts each request by product, action and code, times them, and counts throttling by AccessKeyId', async () => {
    const before = await scrape(metricsPort);
    // Opening the token made calls (login, index reads): those are counted, no request yet.
    expect(before.count('p11bridge_token_operation_duration_seconds', { operation: 'readObjects' })).toBeGreaterThan(0);
    expect(before.value('p11bridge_requests_total')).toBe(0);

    const kms = coreCaller(d);
    for (let i = 0; i < 3; i++) {
      const text = `metrics ${i}`;
      const r = await kms('CertificatePrivateKeySign', signQuery(rsaId, text));
      const sig = Buffer.from(String((r.body as { SignatureValue?: string }).SignatureValue), 'base64');
      expect(verify('sha256', Buffer.from(text), createPublicKey(rsaPem), sig)).toBe(true);
    }
    const creds = { accessKeyId: d.accessKeyId, secret: d.accessKeySecret };
    const missing = await signedPost(
      d.endpoint,
      creds,
      'CertificatePrivateKeySign',
      KMS_VERSION,
      signQuery('no-such-certificate', 'x'),
    );
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ Code: 'Certificate.NotFound' });
    const slow = as(d, d.extraKeys.slow as { id: string; secret: string });
    await coreCaller(slow)('CertificatePrivateKeySign', signQuery(rsaId, 'slow once'));
    const throttled = await signedPost(
      d.endpoint,
      { accessKeyId: slow.accessKeyId, secret: slow.accessKeySecret },
      'CertificatePrivateKeySign',
      KMS_VERSION,
      signQuery(rsaId, 'slow twice'),
    );
    expect(throttled.status).toBe(400);
    expect(JSON.parse(throttled.body)).toMatchObject({ Code: 'Rejected.Throttling' });
    // An action we do not have: counted under action "unknown" (a client cannot grow the label set).
    const unknown = await signedPost(d.endpoint, creds, 'NoSuchAction', KMS_VERSION, {});
    expect(unknown.status).toBe(404);

    const m = await scrape(metricsPort);
    // Prometheus' own parser and linter accept the whole exposition.
    expect(promtoolCheck(m.text)).toEqual({ status: 0, report: '' });
    const sign = { product: 'kms', action: 'CertificatePrivateKeySign' };
    expect(m.type('p11bridge_requests_total')).toBe('COUNTER');
    expect(m.value('p11bridge_requests_total', { ...sign, code: 'OK' })).toBe(4);
    expect(m.value('p11bridge_requests_total', { ...sign, code: 'Certificate.NotFound' })).toBe(1);
    // Refused before routing (the rate is taken as the signature verifies): no operation ran, so action "unknown".
    expect(
      m.value('p11bridge_requests_total', { product: 'kms', action: 'unknown', code: 'Rejected.Throttling' }),
    ).toBe(1);
    const unknownCode = String(JSON.parse(unknown.body).Code);
    expect(m.value('p11bridge_requests_total', { product: 'kms', action: 'unknown', code: unknownCode })).toBe(1);
    expect(m.labelSets('p11bridge_requests_total')).toHaveLength(4);
    expect(m.labelSets('p11bridge_requests_total').some((l) => l.action === 'NoSuchAction')).toBe(false);
    expect(m.type('p11bridge_request_duration_seconds')).toBe('HISTOGRAM');
    expect(m.count('p11bridge_request_duration_seconds', sign)).toBe(5);
    expect(m.count('p11bridge_request_duration_seconds', { product: 'kms', action: 'unknown' })).toBe(2);
    expect(m.value('p11bridge_throttled_requests_total', { access_key_id: slow.accessKeyId })).toBe(1);
    expect(m.labelSets('p11bridge_throttled_requests_total')).toHaveLength(1);
    // Four signatures reached the token; the missing certificate and the throttled call did not.
    const token = d.config.tokens[0]?.name ?? '';
    expect(m.count('p11bridge_token_operation_duration_seconds', { token, operation: 'sign' })).toBe(4);
    expect(m.labelSets('p11bridge_pkcs11_errors_total')).toHaveLength(0);
    expect(m.value('p11bridge_token_state', { token, state: 'ready' })).toBe(1);
    expect(m.value('p11bridge_token_state', { token, state: 'unavailable' })).toBe(0);
    expect(m.value('p11bridge_token_health', { token, status: 'ACTIVE' })).toBe(1);
    expect(m.value('p11bridge_token_recoveries_total', { token })).toBe(0);
    expect(m.value('p11bridge_sessions', { token, state: 'busy' })).toBe(0);
    expect(m.value('p11bridge_sessions', { token, state: 'idle' })).toBeGreaterThanOrEqual(1);
    expect(m.value('p11bridge_session_waiters', { token })).toBe(0);
    // Every signed request that passed authentication and its rate burned its nonce: 4 + 1 + 1 (not the throttled).
    expect(m.value('p11bridge_replay_window_entries')).toBe(6);
  });

  it('is served on its own listener only: the API port has no /metrics', async () => {
    expect(await get(d.port, '/metrics')).toBe(404);
    expect(await get(metricsPort, '/other')).toBe(404);
  });

  it('writes the client address and the identity used in the access log, and no message content', async () => {
    const lines = d
      .logText()
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const signed = lines.filter((l) => l.action === 'CertificatePrivateKeySign' && l.status === 200);
    expect(signed.length).toBe(4);
    for (const l of signed) expect(l).toMatchObject({ clientAddress: '127.0.0.1', identity: rsaId });
    expect(d.logText()).not.toContain(Buffer.from('metrics 0').toString('base64'));
    expect(d.logText()).not.toContain(d.accessKeySecret);
  });
});
