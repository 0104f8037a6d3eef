/**
 * The audit log (issue 18) end to end: the daemon on a SoftHSM2 token, called with the official SDKs; its audit
 * file checked by the `p11bridge audit verify` command, with the audit key the daemon generated in the token.
 */
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cas3, casSign, coreCaller, as } from '../helpers/clients';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { scrape } from '../helpers/prometheus';
import { rawRequest } from '../helpers/rawHttp';
import { expectCloudError } from '../helpers/sdkErrors';
import { CLI } from '../helpers/serveProcess';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;

const sha256hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function verifyCli(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'audit', 'verify', ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Entry {
  seq: number;
  type: string;
  requestId?: string;
  accessKeyId?: string;
  action?: string;
  identity?: string;
  algorithm?: string;
  messageType?: string;
  dataSha256?: string;
  resultSha256?: string;
  outcome?: string;
  client?: string;
}

/** GET /readyz: status and body. */
async function readyz(d: TestDaemon): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await rawRequest(d.endpoint, { path: '/readyz' });
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
}

/** /readyz once the audit log has failed a write (the first entry is written within about 10 ms of the start). */
async function readyzOnceFailing(d: TestDaemon): Promise<{ status: number; body: Record<string, unknown> }> {
  for (let i = 0; ; i++) {
    const r = await readyz(d);
    if ((r.body.audit as { ready?: boolean } | undefined)?.ready === false || i >= 100) return r;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function entries(file: string): Entry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Entry);
}

describe('audit log', () => {
  let d: Daemon;
  let file: string;
  const messages: string[] = [];
  const signatures: Array<{ requestId: string; message: Buffer; signature: Buffer }> = [];
  let auditKey: Record<string, boolean | undefined> = {};
  let ready: { status: number; body: Record<string, unknown> } | undefined;

  // The token's directory goes with the daemon: the audit files outlive it, as they would in production.
  const dir = mkdtempSync(join(tmpdir(), 'p11bridge-audit-e2e-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    file = join(dir, 'audit.jsonl');
    d = await startTestDaemon({
      extraKeys: [{ name: 'readonly', actions: ['kms:DescribeCertificate'] }],
      configure: (raw) => {
        raw.audit = { file, checkpoint: { entries: 200, seconds: 3600 } };
      },
    });
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
    const ec = d.certificates.find((c) => c.keySpec === 'EC_P256');
    if (!rsa || !ec) throw new Error('demo certificates missing');
    const cas = cas3(d);
    const kms = coreCaller(d);
    // A few thousand private-key operations, eight at a time, through two products.
    const total = 2000;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const message = `audit message ${i} ${randomBytes(6).toString('hex')}`;
        messages.push(message);
        if (i % 2 === 0) {
          const r = await casSign(cas, {
            certIdentifier: ec.id,
            message,
            messageType: 'RAW',
            signingAlgorithm: 'SHA256withECDSA',
          });
          signatures.push({
            requestId: r.requestId ?? '',
            message: Buffer.from(message),
            signature: Buffer.from(r.signature ?? '', 'base64'),
          });
        } else {
          await kms('CertificatePrivateKeySign', {
            CertificateId: rsa.id,
            Algorithm: 'RSA_PKCS1_SHA_256',
            MessageType: 'RAW',
            Message: Buffer.from(message).toString('base64'),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // A refusal (permission), a refusal (wrong secret), a lifecycle change and a reload.
    await expectCloudError(
      () =>
        coreCaller(as(d, d.extraKeys.readonly as { id: string; secret: string }))('CertificatePrivateKeySign', {
          CertificateId: rsa.id,
          Algorithm: 'RSA_PKCS1_SHA_256',
          MessageType: 'RAW',
          Message: 'aGVsbG8=',
        }),
      { statusCode: 403, code: 'Forbidden.RAM' },
    );
    await expectCloudError(
      () => coreCaller({ ...d, accessKeySecret: 'not-the-secret' })('DescribeCertificate', { CertificateId: rsa.id }),
      { statusCode: 400, code: 'SignatureDoesNotMatch' },
    );
    await kms('UpdateCertificateStatus', { CertificateId: ec.id, Status: 'INACTIVE' });
    await kms('UpdateCertificateStatus', { CertificateId: ec.id, Status: 'ACTIVE' });
    await d.daemon.reload(d.config);
    const k = d.daemon.tokens.tokens[0]?.keyPair('p11bridge/audit');
    auditKey = { sensitive: k?.sensitive, extractable: k?.extractable, canSign: k?.canSign, canDecrypt: k?.canDecrypt };
    ready = await readyz(d);
    await d.stop();
  }, 180000);

  it('verifies a log of a few thousand operations with the audit key pinned', () => {
    const r = verifyCli(['--key', `${file}.key.pem`, file]);
    expect(r.out).toMatch(/^OK chain main .*: entries 1\.\.\d+, \d+ checkpoints verified/);
    expect(r.out).toContain('(pinned)');
    expect(r.out).toContain('no unsigned tail');
    expect(r.status).toBe(0);
    const all = entries(file);
    expect(all.filter((e) => e.type === 'sign')).toHaveLength(2000);
    expect(all.filter((e) => e.type === 'checkpoint').length).toBeGreaterThanOrEqual(10);
  });

  it('records who signed what: the hashes of the message and of the signature, never the message', () => {
    const all = entries(file);
    const text = readFileSync(file, 'utf8');
    for (const s of signatures.slice(0, 50)) {
      const e = all.find((x) => x.requestId === s.requestId);
      expect(e).toMatchObject({
        type: 'sign',
        accessKeyId: d.accessKeyId,
        action: 'Sign',
        algorithm: 'SHA256withECDSA',
        messageType: 'RAW',
        client: '127.0.0.1',
        outcome: 'OK',
        dataSha256: sha256hex(s.message),
        resultSha256: sha256hex(s.signature),
      });
    }
    for (const m of messages) expect(text).not.toContain(m);
    expect(text).not.toContain(d.accessKeySecret);
  });

  it('records refusals, lifecycle changes and reloads', () => {
    const all = entries(file);
    expect(all).toContainEqual(
      expect.objectContaining({
        type: 'refused',
        action: 'CertificatePrivateKeySign',
        outcome: 'Forbidden.RAM',
        accessKeyId: (d.extraKeys.readonly as { id: string }).id,
      }),
    );
    expect(all).toContainEqual(
      expect.objectContaining({ type: 'refused', outcome: 'SignatureDoesNotMatch', accessKeyId: d.accessKeyId }),
    );
    expect(all.filter((e) => e.type === 'lifecycle' && e.action === 'UpdateCertificateStatus')).toHaveLength(2);
    expect(all).toContainEqual(expect.objectContaining({ type: 'reload', outcome: 'OK' }));
  });

  it('signs checkpoints with an EC key generated in the token: sensitive, not extractable', () => {
    // Read from the token's key index while the daemon ran (CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN, CKA_DECRYPT).
    expect(auditKey).toEqual({ sensitive: true, extractable: false, canSign: true, canDecrypt: false });
    const pem = readFileSync(`${file}.key.pem`, 'utf8');
    const key = createPublicKey(pem);
    expect(key.asymmetricKeyType).toBe('ec');
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.includes('"type":"checkpoint"')) as string;
    const cp = JSON.parse(line) as { head: string; headSeq: number; signature: string };
    const payload = Buffer.from(`p11bridge-audit-checkpoint/v1\nmain\n${cp.headSeq}\n${cp.head}`);
    expect(verify('sha256', payload, key, Buffer.from(cp.signature, 'base64'))).toBe(true);
  });

  it('reports a writable audit log as ready in /readyz', () => {
    expect(ready?.status).toBe(200);
    expect(ready?.body).toMatchObject({ status: 'ready', audit: { ready: true, required: false } });
  });

  it('names the first tampered entry and exits non-zero', () => {
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"type":"sign"') && l.includes('"action":"Sign"'));
    lines[at] = (lines[at] as string).replace(/"dataSha256":"[0-9a-f]{4}/, '"dataSha256":"0000');
    const tampered = join(dir, 'tampered.jsonl');
    writeFileSync(tampered, lines.join('\n'));
    const r = verifyCli(['--key', `${file}.key.pem`, tampered]);
    expect(r.out).toContain(`tampered.jsonl:${at + 2}: entry seq`);
    expect(r.out).toContain('was altered');
    expect(r.status).toBe(1);
  });
});

describe('audit.required', () => {
  it('refuses signing with the service-unavailable error when the audit file cannot be written', async () => {
    if (!existsSync('/dev/full')) throw new Error('this test needs /dev/full (writes fail with ENOSPC)');
    const d = await startTestDaemon({
      configure: (raw) => {
        raw.audit = { file: '/dev/full', required: true, publicKeyFile: '/dev/null' };
        raw.metrics = { enabled: true, port: 0 };
      },
    });
    try {
      // It refuses every signature, so it is not ready: a balancer sends the callers elsewhere.
      const r = await readyzOnceFailing(d);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({
        status: 'not ready',
        health: 'UNAVAILABLE',
        audit: { ready: false, required: true, reason: 'audit entries cannot be written (ENOSPC)' },
      });
      expect(JSON.stringify(r.body)).not.toContain('/dev/full');
      const m = await scrape(d.daemon.metricsPort ?? 0);
      expect(m.value('p11bridge_audit_ready')).toBe(0);
      expect(m.value('p11bridge_audit_write_failures_total')).toBeGreaterThanOrEqual(1);
      const ec = d.certificates.find((c) => c.keySpec === 'EC_P256');
      if (!ec) throw new Error('no EC certificate');
      await expectCloudError(
        () =>
          casSign(cas3(d), {
            certIdentifier: ec.id,
            message: 'refused for want of an audit entry',
            messageType: 'RAW',
            signingAlgorithm: 'SHA256withECDSA',
          }),
        { statusCode: 503, code: 'ServiceUnavailable' },
      );
      await expectCloudError(
        () =>
          coreCaller(d)('CertificatePrivateKeySign', {
            CertificateId: ec.id,
            Algorithm: 'ECDSA_SHA_256',
            MessageType: 'RAW',
            Message: 'aGVsbG8=',
          }),
        { statusCode: 503, code: 'ServiceUnavailableTemporary' },
      );
      // Operations without a private key are not held back by the audit log.
      const res = await coreCaller(d)('DescribeCertificate', { CertificateId: ec.id });
      expect(res.statusCode).toBe(200);
    } finally {
      await d.stop();
    }
  });

  it('signs when the audit file cannot be written but the audit is not required', async () => {
    const d = await startTestDaemon({
      configure: (raw) => {
        raw.audit = { file: '/dev/full', required: false, publicKeyFile: '/dev/null' };
        raw.metrics = { enabled: true, port: 0 };
      },
    });
    try {
      // Reported, and still ready: it signs without an audit trail, which the operator must hear of (DEGRADED).
      const health = await readyzOnceFailing(d);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({
        status: 'ready',
        health: 'DEGRADED',
        audit: { ready: false, required: false, reason: 'audit entries cannot be written (ENOSPC)' },
      });
      expect((await scrape(d.daemon.metricsPort ?? 0)).value('p11bridge_audit_ready')).toBe(0);
      const ec = d.certificates.find((c) => c.keySpec === 'EC_P256');
      if (!ec) throw new Error('no EC certificate');
      const r = await casSign(cas3(d), {
        certIdentifier: ec.id,
        message: 'signed although the audit log fails',
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withECDSA',
      });
      expect(r.signature).toBeTruthy();
      // Entries nobody waits for are written within 10 ms: the failure is logged then, after the answer.
      for (let i = 0; i < 100 && !d.logText().includes('audit log cannot be written'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(d.logText()).toContain('audit log cannot be written');
    } finally {
      await d.stop();
    }
  });
});
