import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, verify, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { signV3Request } from '../helpers/signRequest';
import { acsDate } from '../helpers/rawClient';
import { KMS_VERSION, pop } from '../helpers/clients';
import { ServeProcess } from '../helpers/serveProcess';
import { createTestToken, provisionTestToken, type TestToken } from '../helpers/token';

/**
 * A network HSM that stops answering, for real: the token lives in another process behind p11-kit's remoting
 * (`p11-kit server` in front of SoftHSM2, `p11-kit-client.so` in the daemon), and that process is stopped with
 * SIGSTOP — every PKCS#11 call of the daemon then waits on a socket, as it would on a hung network HSM. No fault is
 * injected: the daemon sees exactly what it would see. (Issue 12 measured the old daemon frozen here.)
 */
const P11KIT_CLIENT = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const ACCESS_KEY_ID = 'LTAI5tREMOTEHANG00001';
const ACCESS_KEY_SECRET = 'remote-hang-test-secret-1';
const OPERATION_MS = 1000;
const MESSAGE = Buffer.from('signed behind p11-kit remoting');

jest.setTimeout(90_000);

interface Outcome {
  at: number;
  ms: number;
  status: number;
  code?: string;
  signature?: string;
}

function post(port: number, signed: { path: string; headers: Record<string, string> }): Promise<Outcome> {
  const at = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: signed.path, headers: signed.headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => {
          const body = JSON.parse(text) as { Code?: string; SignatureValue?: string };
          resolve({
            at,
            ms: performance.now() - at,
            status: res.statusCode ?? 0,
            ...(body.Code ? { code: body.Code } : {}),
            ...(body.SignatureValue ? { signature: body.SignatureValue } : {}),
          });
        });
      },
    );
    req.on('error', () => resolve({ at, ms: performance.now() - at, status: 0 }));
    req.end();
  });
}

/** A monitoring client keeps its connection, as load balancers' health checks do. */
const monitor = new Agent({ keepAlive: true, maxSockets: 1 });

function get(port: number, path: string): Promise<{ ms: number; status: number; body: string }> {
  const at = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: monitor }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ ms: performance.now() - at, status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', () => resolve({ ms: performance.now() - at, status: 0, body: '' }));
    req.end();
  });
}

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

describe('a token behind p11-kit remoting whose server process stops answering (SIGSTOP)', () => {
  let t: TestToken;
  let work: string;
  let server: ChildProcess;
  let serve: ServeProcess;
  let port: number;
  let ecId: string;
  let ecCert: X509Certificate;

  beforeAll(async () => {
    t = createTestToken();
    const { leaves } = await provisionTestToken(t);
    ecId = (leaves.find((l) => l.keySpec === 'EC_P256') ?? { id: '' }).id;
    work = mkdtempSync(join(tmpdir(), 'p11bridge-remote-'));
    const socket = join(work, 'p11kit.sock');
    server = spawn('p11-kit', ['server', '-f', '-n', socket, '--provider', SOFTHSM, `pkcs11:token=${t.label}`], {
      env: { ...process.env, SOFTHSM2_CONF: t.conf },
      stdio: ['ignore', 'ignore', 'inherit'],
      // Its own process group: p11-kit server serves each client connection in a child process, and the whole
      // server (all of them) is what stops answering.
      detached: true,
    });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    const config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2, shutdownTimeoutMs: 2000 },
        tokens: [
          {
            warehouseId: 1,
            name: 'remote',
            module: P11KIT_CLIENT,
            tokenLabel: t.label,
            pin: { file: t.pinFile },
            sessions: { size: 2 },
            timeouts: { operationMs: OPERATION_MS },
          },
        ],
        auth: { accessKeys: [{ id: ACCESS_KEY_ID, secret: { env: 'REMOTE_TEST_SECRET' } }] },
      }),
    );
    serve = new ServeProcess(config, {
      REMOTE_TEST_SECRET: ACCESS_KEY_SECRET,
      P11_KIT_SERVER_ADDRESS: `unix:path=${socket}`,
    });
    port = (await serve.waitFor((l) => l.msg === 'cluster listening', 30000)).port ?? 0;
    const client = pop(
      { endpoint: `127.0.0.1:${port}`, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET },
      KMS_VERSION,
    );
    const got = await client.request('GetCertificate', { CertificateId: ecId });
    ecCert = new X509Certificate(String(got.body.Certificate));
  });

  afterAll(async () => {
    monitor.destroy();
    if (server?.pid) process.kill(-server.pid, 'SIGCONT');
    if (serve && serve.proc.exitCode === null) {
      serve.proc.kill('SIGKILL');
      await serve.exited();
    }
    if (server?.pid) process.kill(-server.pid, 'SIGKILL');
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('answers every request within its deadline while the token hangs, keeps /healthz fast, and serves again once it answers', async () => {
    const sign = (): Promise<Outcome> =>
      post(
        port,
        signV3Request({
          method: 'POST',
          host: `127.0.0.1:${port}`,
          query: {
            CertificateId: ecId,
            Algorithm: 'ECDSA_SHA_256',
            MessageType: 'RAW',
            Message: MESSAGE.toString('base64'),
          },
          action: 'CertificatePrivateKeySign',
          version: KMS_VERSION,
          accessKeyId: ACCESS_KEY_ID,
          secret: ACCESS_KEY_SECRET,
          date: acsDate(),
          nonce: randomUUID(),
        }),
      );
    const outcomes: Outcome[] = [];
    const health: number[] = [];
    let running = true;
    // A steady load of a few hundred requests/s: four clients, each sending its next request 10 ms after the last
    // is answered.
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        outcomes.push(await sign());
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    let hung = false;
    // /healthz every 20 ms; the latencies that count are those while the token hangs.
    const healthPoller = (async () => {
      while (running) {
        const h = await get(port, '/healthz');
        expect(h.status).toBe(200);
        if (hung) health.push(h.ms);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    const stoppedAt = performance.now();
    process.kill(-(server.pid as number), 'SIGSTOP');
    hung = true;
    await new Promise((r) => setTimeout(r, 3000));
    const ready = await get(port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/did not answer within 1000 ms/);
    const resumedAt = performance.now();
    hung = false;
    process.kill(-(server.pid as number), 'SIGCONT');
    let backAt: number | undefined;
    while (performance.now() - resumedAt < 8000) {
      await new Promise((r) => setTimeout(r, 100));
      backAt = outcomes.find((o) => o.status === 200 && o.at > resumedAt)?.at;
      if (backAt !== undefined && performance.now() - backAt > 1000) break;
    }
    running = false;
    await Promise.all([...clients, healthPoller]);

    const during = outcomes.filter((o) => o.at > stoppedAt && o.at < resumedAt);
    const ok = outcomes.filter((o) => o.status === 200);
    const failed = outcomes.filter((o) => o.status !== 200);
    console.log(
      `remote hang: ${outcomes.length} requests (${ok.length} ok, ${failed.length} refused); slowest refusal ` +
        `${Math.max(0, ...failed.map((o) => o.ms)).toFixed(0)} ms; /healthz p50 ` +
        `${[...health].sort((a, b) => a - b)[Math.floor(health.length / 2)]?.toFixed(1)} ms, p99 ${p99(health).toFixed(1)} ms ` +
        `(max ${Math.max(...health).toFixed(1)} ms, ${health.length} polls); serving again ` +
        `${backAt === undefined ? 'never' : (backAt - resumedAt).toFixed(0)} ms after SIGCONT`,
    );
    // Every 200 carries a signature that verifies.
    for (const o of ok) {
      expect(verify('sha256', MESSAGE, ecCert.publicKey, Buffer.from(o.signature ?? '', 'base64'))).toBe(true);
    }
    // Every refusal is KMS's service-unavailable error, answered within the deadline (plus scheduling margin),
    // never a hang, a reset or a 500.
    expect(during.length).toBeGreaterThan(0);
    for (const o of failed) {
      expect({ status: o.status, code: o.code }).toEqual({ status: 503, code: 'ServiceUnavailableTemporary' });
      expect(o.ms).toBeLessThan(OPERATION_MS + 1000);
    }
    // The event loop never waited on the token.
    expect(p99(health)).toBeLessThan(50);
    // Serving again within 5 s of the token answering.
    expect(backAt).toBeDefined();
    expect((backAt ?? Infinity) - resumedAt).toBeLessThan(5000);
    expect(serve.proc.exitCode).toBeNull();
  });
});
