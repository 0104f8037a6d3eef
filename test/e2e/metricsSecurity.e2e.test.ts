/**
 * The metrics listener's optional TLS and scrape authentication (decision 0030): a real HTTPS scrape with a bearer
 * token, parsed by a Prometheus text parser; unauthenticated and wrongly authenticated scrapes refused with 401 and
 * a challenge; plain HTTP refused on the TLS port; basic auth on a plain loopback listener.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { startMetricsListener, type MetricsListener } from '../../src/net/metricsListener';
import { coreCaller } from '../helpers/clients';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { recordSecret } from '../helpers/leakCheck';
import { Scrape } from '../helpers/prometheus';
import { makeTlsFiles, type TlsFiles } from '../helpers/tls';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  port: number,
  opts: { path?: string; authorization?: string; tls?: { ca: string } } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = opts.tls ? httpsRequest : httpRequest;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/metrics',
        headers: opts.authorization ? { authorization: opts.authorization } : {},
        ...(opts.tls ? { ca: opts.tls.ca, servername: 'localhost' } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('metrics over HTTPS with a bearer token (metrics.tls, metrics.auth)', () => {
  let d: TestDaemon;
  let dir: string;
  let files: TlsFiles;
  const token = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-metrics-tls-'));
    files = await makeTlsFiles(dir);
    recordSecret(token);
    const tokenFile = join(dir, 'scrape-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    d = await startTestDaemon({
      configure: (raw) => {
        raw.metrics = { enabled: true, port: 0, tls: files.tlsConfig(), auth: { bearerToken: { file: tokenFile } } };
      },
    });
  });

  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves an authenticated HTTPS scrape that a Prometheus parser reads, with the calls made so far', async () => {
    const ec = d.certificates.find((c) => c.keySpec === 'EC_P256');
    await coreCaller(d)('DescribeCertificate', { CertificateId: ec?.id });
    const r = await get(d.daemon.metricsPort ?? 0, {
      authorization: `Bearer ${token}`,
      tls: { ca: files.ca.certificatePem },
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = new Scrape(r.body);
    expect(m.value('p11bridge_requests_total', { product: 'kms', action: 'DescribeCertificate', code: 'OK' })).toBe(1);
  });

  it('refuses a scrape without credentials, or with the wrong token, with 401 and a Bearer challenge', async () => {
    const port = d.daemon.metricsPort ?? 0;
    const tls = { ca: files.ca.certificatePem };
    for (const authorization of [
      undefined,
      `Bearer ${token}x`,
      `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
    ]) {
      const r = await get(port, { tls, ...(authorization ? { authorization } : {}) });
      expect([authorization, r.status]).toEqual([authorization, 401]);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="p11bridge metrics"');
      expect(r.body).not.toContain('p11bridge_');
    }
    // Other paths too: an unauthenticated caller learns nothing of what the listener serves.
    expect((await get(port, { tls, path: '/other' })).status).toBe(401);
    expect((await get(port, { tls, path: '/other', authorization: `Bearer ${token}` })).status).toBe(404);
  });

  it('speaks TLS only on that port: a plain HTTP scrape gets no metrics', async () => {
    const outcome = await get(d.daemon.metricsPort ?? 0, { authorization: `Bearer ${token}` }).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    expect(outcome).not.toBe(200);
  });

  it('never writes the scrape token to the log', () => {
    expect(d.logText()).toContain('metrics listening');
    expect(d.logText()).not.toContain(token);
  });
});

describe('metrics with basic auth on a plain loopback listener', () => {
  let listener: MetricsListener;
  let dir: string;
  const password = randomBytes(18).toString('base64url');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-metrics-basic-'));
    recordSecret(password);
    const passwordFile = join(dir, 'scrape-password');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    const registry = new Registry();
    new Counter({ name: 'p11bridge_example_total', help: 'An example.', registers: [registry] }).inc(2);
    listener = await startMetricsListener(
      { enabled: true, host: '127.0.0.1', port: 0, auth: { username: 'prometheus', password: { file: passwordFile } } },
      () => registry.metrics(),
      pino({ level: 'silent' }),
    );
  });

  afterAll(async () => {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  it('serves the scrape with the right username and password', async () => {
    const r = await get(listener.port, { authorization: basic('prometheus', password) });
    expect(r.status).toBe(200);
    expect(new Scrape(r.body).value('p11bridge_example_total')).toBe(2);
  });

  it('refuses a wrong password, a wrong username or none with 401 and a Basic challenge', async () => {
    for (const authorization of [basic('prometheus', `${password}x`), basic('grafana', password), undefined]) {
      const r = await get(listener.port, authorization ? { authorization } : {});
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="p11bridge metrics", charset="UTF-8"');
    }
  });
});
