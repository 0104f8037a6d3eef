/**
 * Per-key limits and fail-closed defaults (issue 16): request rates, the replay-window share, CA keys refused
 * as API signers unless policy.caSigners names them, and CreateCertificate bound to warehouses and a count.
 */
import { verify, X509Certificate } from 'node:crypto';
import { validateConfig } from '../../src/config/load';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { signedPost } from '../helpers/rawClient';
import { coreCaller, as } from '../helpers/clients';
import { sdkError } from '../helpers/sdkErrors';

type Daemon = TestDaemon & { extraKeys: Record<string, { id: string; secret: string }> };

const KMS = '2016-01-20';

describe('per-key limits and fail-closed defaults (daemon over HTTP)', () => {
  let d: Daemon;
  const key = (name: string) => {
    const k = d.extraKeys[name];
    if (!k) throw new Error(`no key ${name}`);
    return { accessKeyId: k.id, secret: k.secret };
  };
  const quota = (creds: { accessKeyId: string; secret: string }) =>
    signedPost(d.endpoint, creds, 'GetCertWarehouseQuota', '2020-04-07', {});
  const main = () => ({ accessKeyId: d.accessKeyId, secret: d.accessKeySecret });

  beforeAll(async () => {
    d = await startTestDaemon({
      extraKeys: [{ name: 'slow' }, { name: 'noisy' }, { name: 'nowhere' }, { name: 'once' }],
      configure: (raw) => {
        const auth = raw.auth as { accessKeys: Array<Record<string, unknown>>; nonceMaxEntries?: number };
        auth.nonceMaxEntries = 1000;
        const [, slow, , nowhere, once] = auth.accessKeys;
        Object.assign(slow as object, { qps: 2, burst: 2 });
        Object.assign(nowhere as object, { warehouses: [] });
        Object.assign(once as object, { warehouses: [1], maxCertificates: 1, maxKeys: 1 });
        (raw.logging as Record<string, unknown>).accessLog = false;
      },
    });
  });

  afterAll(async () => {
    await d.stop();
  });

  it('answers a key over its qps at once with 400 Throttling.User and x-acs-retry-after, and serves other keys', async () => {
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 6 }, () => quota(key('slow'))));
    expect(Date.now() - started).toBeLessThan(1000);
    const refused = answers.filter((r) => r.status !== 200);
    expect(answers.filter((r) => r.status === 200)).toHaveLength(2);
    expect(refused).toHaveLength(4);
    for (const r of refused) {
      expect([r.status, (JSON.parse(r.body) as { Code: string }).Code]).toEqual([400, 'Throttling.User']);
      const after = Number(r.headers['x-acs-retry-after']);
      expect(after).toBeGreaterThan(0);
      expect(after).toBeLessThanOrEqual(500);
    }
    expect((await quota(main())).status).toBe(200);
    // Half a second later one token (2 per second) is back.
    await new Promise((r) => setTimeout(r, 550));
    expect((await quota(key('slow'))).status).toBe(200);
  });

  it('surfaces the rate limit through openapi-core as a throttling error', async () => {
    const kms = coreCaller(
      as(
        { endpoint: d.endpoint, accessKeyId: d.accessKeyId, accessKeySecret: d.accessKeySecret },
        {
          id: key('slow').accessKeyId,
          secret: key('slow').secret,
        },
      ),
    );
    await new Promise((r) => setTimeout(r, 1000));
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => kms('DescribeCertificate', { CertificateId: d.certificates[0]?.id ?? '' }, KMS)),
    );
    const errors = await Promise.all(
      results
        .filter((r) => r.status === 'rejected')
        .map((r) => sdkError(() => Promise.reject((r as PromiseRejectedResult).reason))),
    );
    expect(errors.length).toBeGreaterThanOrEqual(2);
    // A KMS request gets KMS's own throttling code (decision 0007): what openapi-core's ThrottlingError matches.
    for (const e of errors) expect(e.code).toBe('Rejected.Throttling');
  });

  it('stops a key flooding the replay window at its share, with Throttling.User, while every other key is served', async () => {
    // 1000 entries shared by 5 keys: each is guaranteed 1000 / (2 × 5) = 100; the pool of 500 goes to the flood.
    let accepted = 0;
    let throttled: { status: number; body: string; headers: Record<string, unknown> } | undefined;
    while (!throttled && accepted < 2000) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => quota(key('noisy'))));
      for (const r of batch) {
        if (r.status === 200) accepted++;
        else throttled ??= r;
      }
    }
    expect(accepted).toBe(600);
    expect(throttled?.status).toBe(400);
    expect(JSON.parse(throttled?.body ?? '{}')).toMatchObject({ Code: 'Throttling.User' });
    expect(Number(throttled?.headers['x-acs-retry-after'])).toBeGreaterThan(30 * 60 * 1000);
    for (let i = 0; i < 20; i++) expect((await quota(main())).status).toBe(200);
  });

  it('refuses a CA key as a signer unless policy.caSigners names it (applied by a reload)', async () => {
    const ca = d.daemon.tokens.tokens[0]?.entries().find((e) => e.isCA);
    if (!ca?.certificate) throw new Error('no CA on the test token');
    const message = Buffer.from('a to-be-signed certificate, in an attack');
    const query = {
      CertificateId: ca.id,
      Algorithm: 'ECDSA_SHA_256',
      MessageType: 'RAW',
      Message: message.toString('base64'),
    };
    const refused = await signedPost(d.endpoint, main(), 'CertificatePrivateKeySign', KMS, query);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({
      Code: 'InvalidParameter',
      Message: expect.stringContaining(
        'is a CA key, which does not sign through the API unless policy.caSigners names it',
      ) as unknown,
    });
    const raw = JSON.parse(JSON.stringify(d.config)) as Record<string, unknown>;
    raw.policy = { caSigners: [ca.id] };
    expect((await d.daemon.reload(validateConfig(raw, {}))).ok).toBe(true);
    const allowed = await signedPost(d.endpoint, main(), 'CertificatePrivateKeySign', KMS, query);
    expect(allowed.status).toBe(200);
    const sig = Buffer.from((JSON.parse(allowed.body) as { SignatureValue: string }).SignatureValue, 'base64');
    expect(verify('sha256', message, new X509Certificate(ca.certificate.raw).publicKey, sig)).toBe(true);
  });

  it('binds CreateCertificate to the warehouses a key may use and to its certificate count', async () => {
    const create = (creds: { accessKeyId: string; secret: string }, extra: Record<string, string> = {}) =>
      signedPost(d.endpoint, creds, 'CreateCertificate', KMS, {
        Subject: 'CN=limited,O=Example,OU=IT,C=CN',
        KeySpec: 'EC_P256',
        ...extra,
      });
    const nowhere = await create(key('nowhere'));
    expect([nowhere.status, (JSON.parse(nowhere.body) as { Code: string }).Code]).toEqual([403, 'Forbidden.RAM']);
    const first = await create(key('once'), { WarehouseId: '1' });
    expect(first.status).toBe(200);
    const second = await create(key('once'));
    expect(second.status).toBe(400);
    expect(JSON.parse(second.body)).toMatchObject({
      Code: 'QuotaExceeded',
      Message: 'This AccessKey has created 1 certificates; its limit (accessKeys[].maxCertificates) is 1.',
    });
    // Another key's count is its own.
    expect((await create(main())).status).toBe(200);
  });

  it('binds CreateKey to the warehouses a key may use and to its key count (accessKeys[].maxKeys)', async () => {
    const createKey = (creds: { accessKeyId: string; secret: string }) =>
      signedPost(d.endpoint, creds, 'CreateKey', KMS, { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY' });
    const nowhere = await createKey(key('nowhere'));
    expect([nowhere.status, (JSON.parse(nowhere.body) as { Code: string }).Code]).toEqual([403, 'Forbidden.RAM']);
    expect((await createKey(key('once'))).status).toBe(200);
    const second = await createKey(key('once'));
    expect(second.status).toBe(400);
    expect(JSON.parse(second.body)).toMatchObject({
      Code: 'QuotaExceeded',
      Message: 'This AccessKey has created 1 keys; its limit (accessKeys[].maxKeys) is 1.',
    });
    expect((await createKey(main())).status).toBe(200);
  });
});
