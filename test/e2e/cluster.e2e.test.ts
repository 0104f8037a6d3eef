import { randomUUID, verify, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { signV3Request } from '../helpers/signRequest';
import { acsDate } from '../helpers/rawClient';
import { KMS_VERSION, pop } from '../helpers/clients';
import { promtoolCheck, scrape } from '../helpers/prometheus';
import { scannedFile } from '../helpers/leakCheck';
import { sendOnNewConnection } from '../helpers/newConnection';
import { CLI, ServeProcess } from '../helpers/serveProcess';
import { createTestToken, daemonTokenEntry, provisionTestToken, type TestToken } from '../helpers/token';

const ACCESS_KEY_ID = 'LTAI5tCLUSTERTEST0001';

const ACCESS_KEY_SECRET = 'cluster-test-secret-0001';

// Processes start (each worker opens the token) and are killed and restarted here: seconds, not milliseconds.
jest.setTimeout(60_000);

describe('cluster mode: `p11bridge serve` with two worker processes on one token (real SoftHSM2, built CLI)', () => {
  let t: TestToken;
  let work: string;
  let auditPath: string | undefined;
  /** Where the leak check scans it (test/helpers/leakCheck.ts), or the suite's own directory. */
  function auditFile(): string {
    auditPath ??= scannedFile('audit', 'audit.jsonl') ?? join(work, 'audit.jsonl');
    return auditPath;
  }
  let serve: ServeProcess;
  let port: number;
  let metricsPort: number;
  let ecId: string;
  let ecCert: X509Certificate;

  const signRequest = (nonce: string) =>
    signV3Request({
      method: 'POST',
      host: `127.0.0.1:${port}`,
      query: {
        CertificateId: ecId,
        Algorithm: 'ECDSA_SHA_256',
        MessageType: 'RAW',
        Message: Buffer.from('cluster').toString('base64'),
      },
      action: 'CertificatePrivateKeySign',
      version: KMS_VERSION,
      accessKeyId: ACCESS_KEY_ID,
      secret: ACCESS_KEY_SECRET,
      date: acsDate(),
      nonce,
    });

  beforeAll(async () => {
    t = createTestToken();
    const { leaves } = await provisionTestToken(t);
    const ec = leaves.find((l) => l.keySpec === 'EC_P256');
    if (!ec) throw new Error('no EC leaf');
    ecId = ec.id;
    work = mkdtempSync(join(tmpdir(), 'p11bridge-cluster-'));
    const config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2, shutdownTimeoutMs: 3000 },
        tokens: [
          daemonTokenEntry(t, {
            // No call on a loaded CI machine may count as slow: the health gauge is asserted ACTIVE.
            health: { slowCallMs: 60_000 },
          }),
        ],
        auth: { accessKeys: [{ id: ACCESS_KEY_ID, secret: { env: 'CLUSTER_TEST_SECRET' } }] },
        metrics: { enabled: true, port: 0 },
        audit: { file: auditFile() },
      }),
    );
    serve = new ServeProcess(config, { CLUSTER_TEST_SECRET: ACCESS_KEY_SECRET });
    const listening = await serve.waitFor((l) => l.msg === 'cluster listening');
    port = listening.port ?? 0;
    metricsPort = (await serve.waitFor((l) => l.msg === 'metrics listening')).port ?? 0;
    const client = pop(
      { endpoint: `127.0.0.1:${port}`, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET },
      KMS_VERSION,
    );
    const got = await client.request('GetCertificate', { CertificateId: ecId });
    ecCert = new X509Certificate(String(got.body.Certificate));
  });

  afterAll(async () => {
    if (serve && serve.proc.exitCode === null) {
      serve.proc.kill('SIGKILL');
      await serve.exited();
    }
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('serves from two worker processes sharing one port', () => {
    expect(port).toBeGreaterThan(0);
    expect(serve.workers()).toHaveLength(2);
  });

  it('signs through the official SDK (pop-core, V1) from either worker; every signature verifies', async () => {
    const client = pop(
      { endpoint: `127.0.0.1:${port}`, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET },
      KMS_VERSION,
    );
    const message = Buffer.from('signed by a cluster worker');
    for (let i = 0; i < 6; i++) {
      const r = await client.request(
        'CertificatePrivateKeySign',
        { CertificateId: ecId, Algorithm: 'ECDSA_SHA_256', MessageType: 'RAW', Message: message.toString('base64') },
        'POST',
      );
      const signature = Buffer.from(String(r.body.SignatureValue), 'base64');
      expect(verify('sha256', message, ecCert.publicKey, signature)).toBe(true);
    }
  });

  it("serves the sum of both workers' metrics from the primary (exact counts so far)", async () => {
    const m = await scrape(metricsPort);
    expect(promtoolCheck(m.text)).toEqual({ status: 0, report: '' });
    // One GetCertificate in beforeAll, six signatures above: whichever worker answered each.
    const kms = { product: 'kms' };
    expect(m.value('p11bridge_requests_total', { ...kms, action: 'GetCertificate', code: 'OK' })).toBe(1);
    expect(m.value('p11bridge_requests_total', { ...kms, action: 'CertificatePrivateKeySign', code: 'OK' })).toBe(6);
    expect(m.count('p11bridge_request_duration_seconds', { ...kms, action: 'CertificatePrivateKeySign' })).toBe(6);
    expect(m.count('p11bridge_token_operation_duration_seconds', { token: t.label, operation: 'sign' })).toBe(6);
    // A gauge of state counts processes: the token is ready in both workers.
    expect(m.value('p11bridge_token_state', { token: t.label, state: 'ready' })).toBe(2);
    expect(m.value('p11bridge_token_health', { token: t.label, status: 'ACTIVE' })).toBe(2);
    expect(m.value('p11bridge_cluster_workers')).toBe(2);
    // Each worker writes its own audit chain: both can.
    expect(m.value('p11bridge_audit_ready')).toBe(2);
    expect(m.value('p11bridge_audit_write_failures_total')).toBe(0);
    // The primary holds the replay window: every one of the seven requests burned a nonce there.
    expect(m.value('p11bridge_replay_window_entries')).toBe(7);
  });

  it('refuses a replayed request whichever worker it reaches: the replay window is shared', async () => {
    const signed = signRequest(randomUUID());
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await sendOnNewConnection(port, signed));
    expect(answers[0]?.status).toBe(200);
    for (const a of answers.slice(1)) {
      expect([a.status, a.body.Code]).toEqual([400, 'SignatureNonceUsed']);
    }
    // The eight answers came from both workers (the access log names the pid of the process that answered).
    const ids = new Set(answers.map((a) => String(a.body.RequestId)));
    await serve.waitFor((l) => l.requestId !== undefined && ids.has(l.requestId) && l.code === 'SignatureNonceUsed');
    await new Promise((r) => setTimeout(r, 1500)); // the access log is written in batches
    const pids = new Set(serve.lines.filter((l) => l.requestId && ids.has(l.requestId)).map((l) => l.pid));
    expect(pids.size).toBe(2);
  });

  it('refuses the same nonce sent to both workers at once: exactly one of the concurrent copies is accepted', async () => {
    const signed = signRequest(randomUUID());
    const answers = await Promise.all(Array.from({ length: 10 }, () => sendOnNewConnection(port, signed)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.body.Code === 'SignatureNonceUsed')).toHaveLength(9);
  });

  it('applies a status change made through one worker on every worker at once (no index-refresh delay)', async () => {
    const client = pop(
      { endpoint: `127.0.0.1:${port}`, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET },
      KMS_VERSION,
    );
    await client.request('UpdateCertificateStatus', { CertificateId: ecId, Status: 'INACTIVE' }, 'POST');
    // Well inside indexRefreshMs (5 s): only the primary's reindex message can have told the other worker.
    await new Promise((r) => setTimeout(r, 100));
    const refused = await Promise.all(
      Array.from({ length: 6 }, () => sendOnNewConnection(port, signRequest(randomUUID()))),
    );
    expect(refused.map((a) => [a.status, a.body.Code])).toEqual(Array(6).fill([409, 'Rejected.Disabled']));
    await client.request('UpdateCertificateStatus', { CertificateId: ecId, Status: 'ACTIVE' }, 'POST');
    await new Promise((r) => setTimeout(r, 100));
    const accepted = await Promise.all(
      Array.from({ length: 6 }, () => sendOnNewConnection(port, signRequest(randomUUID()))),
    );
    expect(accepted.map((a) => a.status)).toEqual(Array(6).fill(200));
  });

  it('restarts a worker that dies, and keeps serving meanwhile', async () => {
    const before = serve.workers();
    const victim = before[0] as number;
    process.kill(victim, 'SIGKILL');
    await serve.waitFor((l) => l.msg === 'worker exited; restarting');
    // The replacement logs `listening` once its token is open and it serves the shared port.
    await serve.waitFor((l) => l.msg === 'listening' && l.pid !== undefined && !before.includes(l.pid));
    const after = serve.workers();
    expect(after).toHaveLength(2);
    expect(after).not.toContain(victim);
    // Every request on a new connection (round-robin: both workers) succeeds.
    for (let i = 0; i < 6; i++) {
      const a = await sendOnNewConnection(port, signRequest(randomUUID()));
      expect(a.status).toBe(200);
    }
  });

  it('stops gracefully on SIGTERM: the primary and every worker exit, the primary with status 0', async () => {
    const workers = serve.workers();
    serve.proc.kill('SIGTERM');
    expect(await serve.exited()).toBe(0);
    for (const pid of workers) {
      expect(() => process.kill(pid, 0)).toThrow();
    }
    expect(serve.lines.some((l) => l.msg === 'cluster stopped')).toBe(true);
  });

  it('keeps one verifiable audit chain per worker, continued by the worker that replaced a killed one', () => {
    const files = ['-w0.jsonl', '-w1.jsonl'].map((f) => auditFile().replace(/\.jsonl$/, f));
    const r = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--key', `${auditFile()}.key.pem`, ...files], {
      encoding: 'utf8',
    });
    expect(r.stdout).toMatch(/^OK chain w0 /m);
    expect(r.stdout).toMatch(/^OK chain w1 /m);
    expect(r.status).toBe(0);
    // The slot whose worker was killed has two starts, by two processes, in one chain.
    const starts = files.map((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"reason":"start"')),
    );
    expect(starts.map((s) => s.length).sort()).toEqual([1, 2]);
    const signs = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"sign"')),
    );
    expect(signs.length).toBeGreaterThanOrEqual(6);
  });
});
