/**
 * HTTPS and mTLS (issue 16) with the official clients trusting a private CA: V3 through openapi-core
 * (cas20200407 3.x, `Config.ca`) and openapi-client (cas20200407 1.3.0, `Config.ca`), V1 through pop-core (an
 * `https.Agent` with `ca`). Every signature is verified with node:crypto.
 */
import CasClient, { SignRequest } from '@alicloud/cas20200407';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $OpenApiClient from '@alicloud/openapi-client';
import RPCClient from '@alicloud/pop-core';
import Cas13Client, * as $Cas13 from 'cas13';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { signedPost } from '../helpers/rawClient';
import { nodeVerify } from '../helpers/verify';
import { makeTlsFiles, type TlsFiles } from '../helpers/tls';

const MESSAGE = 'over TLS';

function rsaOf(d: TestDaemon) {
  const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048');
  if (!rsa) throw new Error('no RSA certificate');
  return rsa;
}

function cas3Tls(
  d: TestDaemon,
  tls: { ca: string; cert?: string; key?: string },
  key = { id: d.accessKeyId, secret: d.accessKeySecret },
) {
  return new CasClient(
    new $OpenApiUtil.Config({
      accessKeyId: key.id,
      accessKeySecret: key.secret,
      endpoint: d.endpoint,
      protocol: 'https',
      ...tls,
    }),
  );
}

/** Resolves with the TLS or socket error a plain request meets, or the HTTP status if one came back. */
function outcome(
  send: (cb: (status: number) => void) => { on(ev: 'error', f: (e: Error) => void): void; end(): void },
): Promise<string> {
  return new Promise((resolve) => {
    const req = send((status) => resolve(`HTTP ${status}`));
    req.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    req.end();
  });
}

describe('HTTPS with a private CA (server.tls)', () => {
  let dir: string;
  let files: TlsFiles;
  let d: TestDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-tls-'));
    files = await makeTlsFiles(dir);
    d = await startTestDaemon({
      configure: (raw) => {
        (raw.server as Record<string, unknown>).tls = files.tlsConfig();
      },
    });
  });

  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves CAS Sign to cas20200407 3.x (V3, openapi-core) trusting the private CA', async () => {
    const client = cas3Tls(d, { ca: files.ca.certificatePem });
    const res = await client.sign(
      new SignRequest({
        certIdentifier: rsaOf(d).id,
        message: MESSAGE,
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withRSA',
      }),
    );
    const sig = Buffer.from(res.body?.signature ?? '', 'base64');
    expect(nodeVerify(rsaOf(d).certificatePem, 'pkcs1', Buffer.from(MESSAGE), sig)).toBe(true);
  });

  it('serves CAS Sign to cas20200407 1.3.0 (V3, openapi-client) trusting the private CA', async () => {
    const client = new Cas13Client(
      new $OpenApiClient.Config({
        accessKeyId: d.accessKeyId,
        accessKeySecret: d.accessKeySecret,
        endpoint: d.endpoint,
        protocol: 'https',
        ca: files.ca.certificatePem,
      }),
    );
    const res = await client.sign(
      new $Cas13.SignRequest({
        certIdentifier: rsaOf(d).id,
        message: MESSAGE,
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withRSA',
      }),
    );
    const sig = Buffer.from(res.body?.signature ?? '', 'base64');
    expect(nodeVerify(rsaOf(d).certificatePem, 'pkcs1', Buffer.from(MESSAGE), sig)).toBe(true);
  });

  it('serves KMS CertificatePrivateKeySign to pop-core (V1) through an https.Agent trusting the private CA', async () => {
    const client = new RPCClient({
      accessKeyId: d.accessKeyId,
      accessKeySecret: d.accessKeySecret,
      endpoint: `https://${d.endpoint}`,
      apiVersion: '2016-01-20',
    });
    const agent = new Agent({ ca: files.ca.certificatePem, keepAlive: true });
    const body = await client.request<{ SignatureValue: string }>(
      'CertificatePrivateKeySign',
      {
        CertificateId: rsaOf(d).id,
        Algorithm: 'RSA_PKCS1_SHA_256',
        MessageType: 'RAW',
        Message: Buffer.from(MESSAGE).toString('base64'),
      },
      { method: 'POST', agent } as unknown as { method: string },
    );
    agent.destroy();
    expect(
      nodeVerify(rsaOf(d).certificatePem, 'pkcs1', Buffer.from(MESSAGE), Buffer.from(body.SignatureValue, 'base64')),
    ).toBe(true);
  });

  it('sends HSTS over TLS', async () => {
    const res = await signedPost(
      d.endpoint,
      { accessKeyId: d.accessKeyId, secret: d.accessKeySecret },
      'GetCertWarehouseQuota',
      '2020-04-07',
      {},
      { tls: { ca: files.ca.certificatePem } },
    );
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('is refused by a client that does not trust the private CA, and speaks no plain HTTP', async () => {
    const [host, port] = d.endpoint.split(':');
    const untrusted = await outcome((cb) =>
      httpsRequest({ host, port: Number(port), path: '/healthz', agent: false }, (res) => cb(res.statusCode ?? 0)),
    );
    expect(untrusted).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    const plain = await outcome((cb) =>
      httpRequest({ host, port: Number(port), path: '/healthz', agent: false }, (res) => cb(res.statusCode ?? 0)),
    );
    expect(plain).not.toBe('HTTP 200');
  });
});

describe('mTLS (server.tls.clientCaFile)', () => {
  let dir: string;
  let files: TlsFiles;
  let d: TestDaemon & { extraKeys: Record<string, { id: string; secret: string }> };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-mtls-'));
    files = await makeTlsFiles(dir);
    d = await startTestDaemon({
      extraKeys: [{ name: 'bound' }],
      configure: (raw) => {
        (raw.server as Record<string, unknown>).tls = files.tlsConfig({ clientCaFile: files.caFile });
        const keys = (raw.auth as { accessKeys: Array<Record<string, unknown>> }).accessKeys;
        (keys[1] as Record<string, unknown>).clientCertificate = { subject: 'CN=signing-client,O=p11bridge' };
      },
    });
  });

  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const sign = (client: CasClient) =>
    client.sign(
      new SignRequest({
        certIdentifier: rsaOf(d).id,
        message: MESSAGE,
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withRSA',
      }),
    );

  it('serves a key bound to a client certificate only to a client presenting it', async () => {
    const bound = d.extraKeys.bound as { id: string; secret: string };
    const withCert = cas3Tls(
      d,
      { ca: files.ca.certificatePem, cert: files.client.certificatePem, key: files.client.keyPem },
      bound,
    );
    expect((await sign(withCert)).body?.signature).toBeTruthy();
    const without = cas3Tls(d, { ca: files.ca.certificatePem }, bound);
    await expect(sign(without)).rejects.toMatchObject({ statusCode: 403, code: 'Forbidden.RAM' });
  });

  it('serves an unbound key with or without a client certificate (requireClientCert is off)', async () => {
    expect((await sign(cas3Tls(d, { ca: files.ca.certificatePem }))).body?.signature).toBeTruthy();
  });
});

describe('mTLS required (server.tls.requireClientCert)', () => {
  let dir: string;
  let files: TlsFiles;
  let d: TestDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-mtls-'));
    files = await makeTlsFiles(dir);
    d = await startTestDaemon({
      configure: (raw) => {
        (raw.server as Record<string, unknown>).tls = files.tlsConfig({
          clientCaFile: files.caFile,
          requireClientCert: true,
        });
      },
    });
  });

  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a client with a certificate from the client CA', async () => {
    const client = cas3Tls(d, {
      ca: files.ca.certificatePem,
      cert: files.client.certificatePem,
      key: files.client.keyPem,
    });
    const res = await client.sign(
      new SignRequest({
        certIdentifier: rsaOf(d).id,
        message: MESSAGE,
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withRSA',
      }),
    );
    expect(res.body?.signature).toBeTruthy();
  });

  it('refuses the handshake of a client without a certificate, before any request is read', async () => {
    const res = await signedPost(
      d.endpoint,
      { accessKeyId: d.accessKeyId, secret: d.accessKeySecret },
      'GetCertWarehouseQuota',
      '2020-04-07',
      {},
      { tls: { ca: files.ca.certificatePem } },
    ).then(
      (r) => `HTTP ${r.status}`,
      (e: Error & { code?: string }) => e.code ?? e.message,
    );
    // TLS 1.3: the server's alert arrives after the client's Finished, as a reset or a certificate-required alert.
    expect(res).toMatch(/ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);
  });
});
