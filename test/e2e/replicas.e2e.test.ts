import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KMS_VERSION } from '../helpers/clients';
import { acsDate } from '../helpers/rawClient';
import { sendOnNewConnection } from '../helpers/newConnection';
import { RedisServer } from '../helpers/redisServer';
import { ServeProcess } from '../helpers/serveProcess';
import { signV3Request } from '../helpers/signRequest';
import { createTestToken, daemonTokenEntry, provisionTestToken, type TestToken } from '../helpers/token';

const KEY = { id: 'LTAI5tREPLICAS000001', secret: 'replicas-test-secret-0001' };
/** A key with a rate: 1 request/s, bursts of 3, for the three replicas together. */
const RATED = { id: 'LTAI5tREPLICASRATED1', secret: 'replicas-test-secret-0002' };

// Three daemons start (and restart) on one token, and Redis goes away and comes back: seconds, not milliseconds.
jest.setTimeout(180_000);

describe('three replicas (separate processes and ports, one token) sharing a Redis replay store', () => {
  let t: TestToken;
  let redis: RedisServer;
  let work: string;
  let ecId: string;
  const replicas: ServeProcess[] = [];
  const ports: number[] = [];
  const configs: string[] = [];

  const signSign = (key: { id: string; secret: string }, nonce = randomUUID(), date = acsDate()) =>
    signV3Request({
      method: 'POST',
      // Behind a load balancer every replica sees the balancer's name: the same Host for all three.
      host: 'signer.example.internal',
      query: {
        CertificateId: ecId,
        Algorithm: 'ECDSA_SHA_256',
        MessageType: 'RAW',
        Message: Buffer.from('two replicas, one window 5f2a').toString('base64'),
      },
      action: 'CertificatePrivateKeySign',
      version: KMS_VERSION,
      accessKeyId: key.id,
      secret: key.secret,
      date,
      nonce,
    });
  const post = sendOnNewConnection;
  const readyz = (port: number) => sendOnNewConnection(port, { method: 'GET', path: '/readyz' });

  const startReplica = async (i: number): Promise<void> => {
    // Replica 0 gets its Redis address from the environment (P11BRIDGE_REDIS_URL), the others from the file.
    const serve = new ServeProcess(configs[i] as string, {
      REPLICAS_KEY_SECRET: KEY.secret,
      REPLICAS_RATED_SECRET: RATED.secret,
      ...(i === 0 ? { P11BRIDGE_REDIS_URL: redis.url } : {}),
    });
    replicas[i] = serve;
    // Generous: three daemons open one token at once on a shared 2-core machine.
    const line = await serve.waitFor(
      (l) => l.msg === 'cluster listening' || (l.msg === 'listening' && i !== 2),
      60_000,
    );
    ports[i] = line.port ?? 0;
    // Ready once its Redis connection is up.
    for (let n = 0; (await readyz(ports[i] as number)).status !== 200; n++) {
      if (n > 200) throw new Error(`replica ${i} never became ready`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stopReplica = async (i: number): Promise<void> => {
    const serve = replicas[i];
    if (!serve || serve.proc.exitCode !== null) return;
    // Killed, not stopped: a crash leaves nothing behind that a graceful stop could have saved.
    serve.proc.kill('SIGKILL');
    await serve.exited();
  };

  beforeAll(async () => {
    t = createTestToken();
    const { leaves } = await provisionTestToken(t);
    ecId = (leaves.find((l) => l.keySpec === 'EC_P256') ?? { id: '' }).id;
    redis = await RedisServer.start();
    work = mkdtempSync(join(tmpdir(), 'p11bridge-replicas-'));
    for (let i = 0; i < 3; i++) {
      const file = join(work, `replica${i}.yaml`);
      writeFileSync(
        file,
        stringify({
          // Replica 2 runs two cluster workers: each claims in Redis itself, not through its primary.
          server: { host: '127.0.0.1', port: 0, workers: i === 2 ? 2 : 1, shutdownTimeoutMs: 2000 },
          tokens: [
            // Far longer than any test: only Redis pub/sub can carry a lifecycle change in time.
            daemonTokenEntry(t, { indexRefreshMs: 600_000 }),
          ],
          auth: {
            replay: { store: 'redis', ...(i === 0 ? {} : { redisUrl: redis.url }), redisTimeoutMs: 1000 },
            accessKeys: [
              { id: KEY.id, secret: { env: 'REPLICAS_KEY_SECRET' } },
              { id: RATED.id, secret: { env: 'REPLICAS_RATED_SECRET' }, qps: 1, burst: 3 },
            ],
          },
          logging: { level: 'info', accessLog: false },
        }),
      );
      configs.push(file);
    }
    await Promise.all([0, 1, 2].map(startReplica));
  });

  afterAll(async () => {
    for (const r of replicas) if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited()));
    await redis?.cleanup();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // Signed once (in the first test), sent again after the restart.
  let replayed: ReturnType<typeof signSign>;

  it('accepts the same signed request exactly once across the three replicas, even sent to all at once', async () => {
    replayed = signSign(KEY);
    const answers = await Promise.all([0, 1, 2, 0, 1, 2, 2, 2].map((i) => post(ports[i] as number, replayed)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400 && a.body.Code === 'SignatureNonceUsed')).toHaveLength(7);
  });

  it('shows a status change made on one replica on the others at once (Redis pub/sub, not the index refresh)', async () => {
    const disable = signV3Request({
      method: 'POST',
      host: 'signer.example.internal',
      query: { CertificateId: ecId, Status: 'INACTIVE' },
      action: 'UpdateCertificateStatus',
      version: KMS_VERSION,
      accessKeyId: KEY.id,
      secret: KEY.secret,
      date: acsDate(),
      nonce: randomUUID(),
    });
    expect((await post(ports[0] as number, disable)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    const refused = await Promise.all([1, 2, 2, 2].map((i) => post(ports[i] as number, signSign(KEY))));
    expect(refused.map((a) => [a.status, a.body.Code])).toEqual(Array(4).fill([409, 'Rejected.Disabled']));
    const enable = signV3Request({
      method: 'POST',
      host: 'signer.example.internal',
      query: { CertificateId: ecId, Status: 'ACTIVE' },
      action: 'UpdateCertificateStatus',
      version: KMS_VERSION,
      accessKeyId: KEY.id,
      secret: KEY.secret,
      date: acsDate(),
      nonce: randomUUID(),
    });
    expect((await post(ports[1] as number, enable)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    const accepted = await Promise.all([0, 2, 2, 2].map((i) => post(ports[i] as number, signSign(KEY))));
    expect(accepted.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  });

  it('holds a key to its rate across the three replicas together (one shared bucket, not one per replica)', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, n) => post(ports[n % 3] as number, signSign(RATED))),
    );
    const elapsedS = (Date.now() - started) / 1000;
    const ok = answers.filter((a) => a.status === 200).length;
    // Burst 3 plus 1/s while the requests ran; three separate buckets would have let 9 or more through.
    expect(ok).toBeGreaterThanOrEqual(3);
    expect(ok).toBeLessThanOrEqual(3 + Math.ceil(elapsedS));
    const throttled = answers.filter((a) => a.status !== 200);
    expect(new Set(throttled.map((a) => a.body.Code))).toEqual(new Set(['Rejected.Throttling']));
  });

  it('still refuses the request after all three replicas are killed and restarted (the window outlives them)', async () => {
    await Promise.all([0, 1, 2].map(stopReplica));
    await Promise.all([0, 1, 2].map(startReplica));
    const answers = await Promise.all([0, 1, 2].map((i) => post(ports[i] as number, replayed)));
    expect(answers.map((a) => [a.status, a.body.Code])).toEqual(Array(3).fill([400, 'SignatureNonceUsed']));
  });

  it('refuses at once while Redis is down, says why on /readyz, and serves within 2 s of Redis returning', async () => {
    await redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    for (const port of ports) {
      const before = Date.now();
      const a = await post(port, signSign(KEY));
      // Fail closed and fast: the KMS service-unavailable code, never a hang until a client timeout.
      expect([a.status, a.body.Code]).toEqual([503, 'ServiceUnavailableTemporary']);
      expect(Date.now() - before).toBeLessThan(1000);
      const ready = await readyz(port);
      expect(ready.status).toBe(503);
      expect(ready.body.replayStore).toMatchObject({ ready: false, reason: expect.any(String) });
    }
    await redis.start();
    const back = Date.now();
    const servingAfter = await Promise.all(
      ports.map(async (port) => {
        while (Date.now() - back < 10_000) {
          if ((await post(port, signSign(KEY))).status === 200) return Date.now() - back;
          await new Promise((r) => setTimeout(r, 20));
        }
        return Number.POSITIVE_INFINITY;
      }),
    );
    console.log(`replicas: serving again ${servingAfter.join(' / ')} ms after redis-server accepted connections`);
    // The bound; the reconnection backoff is capped at 400 ms (src/replay/redisLink.ts).
    expect(Math.max(...servingAfter)).toBeLessThan(2000);
    for (const port of ports) expect((await readyz(port)).status).toBe(200);
  });
});
