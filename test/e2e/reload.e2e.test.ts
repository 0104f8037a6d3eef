/**
 * Reload without a restart (issue 16): access keys added, disabled, removed and re-permissioned, a bad config
 * refused with the running one kept, and the TLS certificate rotated under load with no failed request. The
 * daemon's `reload` is what SIGHUP calls in one process; the cluster path (SIGHUP to the primary, every worker
 * told) runs the built CLI in test/e2e/clusterReload.e2e.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signV3Request } from '../helpers/signRequest';
import { newAccessKey } from '../../src/cli/accessKeys';
import { validateConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { acsDate, signedPost } from '../helpers/rawClient';
import { makeTlsFiles, writeServerCertificate, type TlsFiles } from '../helpers/tls';

type Daemon = TestDaemon & { extraKeys: Record<string, { id: string; secret: string }> };

/** The running config as raw data, changed by `edit`, validated as a reload would read it. */
function edited(
  d: TestDaemon,
  edit: (raw: { auth: { accessKeys: Array<Record<string, unknown>> } } & Record<string, unknown>) => void,
): Config {
  const raw = JSON.parse(JSON.stringify(d.config)) as { auth: { accessKeys: Array<Record<string, unknown>> } } & Record<
    string,
    unknown
  >;
  edit(raw);
  return validateConfig(raw, {});
}

const quota = (d: TestDaemon, key: { id: string; secret: string }) =>
  signedPost(d.endpoint, { accessKeyId: key.id, secret: key.secret }, 'GetCertWarehouseQuota', '2020-04-07', {});

const codeOf = async (p: Promise<{ status: number; body: string }>): Promise<string> => {
  const r = await p;
  return r.status === 200 ? '200' : `${r.status} ${String((JSON.parse(r.body) as { Code?: string }).Code)}`;
};

describe('access keys reloaded without a restart', () => {
  let d: Daemon;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-reload-'));
    d = await startTestDaemon({ extraKeys: [{ name: 'old' }] });
  });

  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, disables, re-permissions and removes keys at once, and keeps serving the others', async () => {
    const main = { id: d.accessKeyId, secret: d.accessKeySecret };
    const old = d.extraKeys.old as { id: string; secret: string };
    const added = newAccessKey();
    const addedFile = join(dir, 'added');
    writeFileSync(addedFile, added.accessKeySecret, { mode: 0o600 });
    const fresh = { id: added.accessKeyId, secret: added.accessKeySecret };
    expect(await codeOf(quota(d, fresh))).toBe('404 InvalidAccessKeyId.NotFound');

    const started = Date.now();
    const outcome = await d.daemon.reload(
      edited(d, (raw) => {
        raw.auth.accessKeys.push({ id: added.accessKeyId, secret: { file: addedFile } });
        (raw.auth.accessKeys[1] as Record<string, unknown>).enabled = false;
      }),
    );
    expect(outcome).toEqual({ ok: true, restartNeeded: [] });
    expect(await codeOf(quota(d, fresh))).toBe('200');
    expect(await codeOf(quota(d, old))).toBe('400 InvalidAccessKeyId.Inactive');
    expect(Date.now() - started).toBeLessThan(1000);

    // Permissions narrowed, then the old key removed.
    await d.daemon.reload(
      edited(d, (raw) => {
        raw.auth.accessKeys.push({ id: added.accessKeyId, secret: { file: addedFile }, actions: ['kms:*'] });
        raw.auth.accessKeys.splice(1, 1);
      }),
    );
    expect(await codeOf(quota(d, fresh))).toBe('403 Forbidden.RAM');
    expect(await codeOf(quota(d, old))).toBe('404 InvalidAccessKeyId.NotFound');
    expect(await codeOf(quota(d, main))).toBe('200');
  });

  it('refuses a config whose secret file others can read, with the mend in one line, and keeps the running keys', async () => {
    const leaky = join(dir, 'leaky');
    writeFileSync(leaky, 'secret');
    chmodSync(leaky, 0o644);
    const outcome = await d.daemon.reload(
      edited(d, (raw) => {
        raw.auth.accessKeys.push({ id: 'LTAI5tLEAKY000000000001', secret: { file: leaky } });
      }),
    );
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.message).toBe(
      `secret file ${leaky} is accessible by group or others (mode 0644); run: chmod 600 ${leaky}`,
    );
    expect(outcome.message).not.toContain('\n');
    expect(await codeOf(quota(d, { id: d.accessKeyId, secret: d.accessKeySecret }))).toBe('200');
    expect(d.logText()).toContain('reload refused; the running configuration is kept');
  });

  it('runs the onReload hooks with the new config, after the swap', async () => {
    const seen: number[] = [];
    d.daemon.onReload.push((c) => {
      seen.push(c.auth.accessKeys.length);
    });
    await d.daemon.reload(edited(d, () => undefined));
    expect(seen).toEqual([d.config.auth.accessKeys.length]);
  });
});

describe('TLS certificate rotation under load', () => {
  let d: TestDaemon;
  let dir: string;
  let files: TlsFiles;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-rotate-'));
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

  /** One signed request on a new TLS connection; resolves with the status and the server certificate's CN. */
  const once = (): Promise<{ status: number; cn: string }> =>
    new Promise((resolve, reject) => {
      const [host, port] = d.endpoint.split(':');
      const signed = signV3Request({
        method: 'POST',
        host: d.endpoint,
        query: {},
        action: 'GetCertWarehouseQuota',
        version: '2020-04-07',
        accessKeyId: d.accessKeyId,
        secret: d.accessKeySecret,
        date: acsDate(),
        nonce: randomUUID(),
      });
      const req = httpsRequest(
        {
          host,
          port: Number(port),
          method: 'POST',
          path: signed.path,
          headers: { ...signed.headers, 'content-length': '0' },
          ca: files.ca.certificatePem,
          agent: new Agent({ keepAlive: false, ca: files.ca.certificatePem }),
        },
        (res) => {
          const cn = (
            res.socket as unknown as { getPeerCertificate(): { subject: { CN: string } } }
          ).getPeerCertificate().subject.CN;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, cn }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('serves the new certificate to new connections after a reload, with no failed request meanwhile', async () => {
    const rotated = await writeServerCertificate(files.ca, dir, 'server-2');
    const results: Array<{ status: number; cn: string } | Error> = [];
    let running = true;
    const clients = Array.from({ length: 8 }, async () => {
      while (running) results.push(await once().catch((e: unknown) => e as Error));
    });
    await new Promise((r) => setTimeout(r, 300));
    const outcome = await d.daemon.reload(
      edited(d, (raw) => {
        (raw.server as Record<string, unknown>).tls = {
          certFile: rotated.certFile,
          keyFile: { file: rotated.keyFile },
        };
      }),
    );
    expect(outcome.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(clients);
    const failures = results.filter((r) => r instanceof Error || r.status !== 200);
    expect(failures).toEqual([]);
    const cns = results.map((r) => (r as { cn: string }).cn);
    expect(cns[0]).toBe('server');
    expect(cns[cns.length - 1]).toBe('server-2');
    expect(results.length).toBeGreaterThan(40);
    // A config whose key does not match its certificate is refused; the rotated certificate stays.
    const refused = await d.daemon.reload(
      edited(d, (raw) => {
        (raw.server as Record<string, unknown>).tls = { certFile: files.certFile, keyFile: { file: rotated.keyFile } };
      }),
    );
    expect(refused.ok).toBe(false);
    expect((await once()).cn).toBe('server-2');
  });
});
