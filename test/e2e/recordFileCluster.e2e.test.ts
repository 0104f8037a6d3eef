/**
 * `metadataStore: file` (decision 0031) behind `p11bridge serve` with two worker processes on one real SoftHSM2
 * token: writers in both workers share the record file under its lock (no record lost), and a status change made
 * through one worker reaches the other through the sibling refresh, as it does for records on the token.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KMS_VERSION, pop, type PopClient } from '../helpers/clients';
import { sendOnNewConnection } from '../helpers/newConnection';
import { acsDate } from '../helpers/rawClient';
import { ServeProcess } from '../helpers/serveProcess';
import { signV3Request } from '../helpers/signRequest';
import { createTestToken, daemonTokenEntry, provisionTestToken, type TestToken } from '../helpers/token';

const ACCESS_KEY_ID = 'LTAI5tRECORDFILE00001';
const ACCESS_KEY_SECRET = 'record-file-test-secret-01';

jest.setTimeout(60_000);

describe('metadataStore: file behind two cluster workers (real SoftHSM2, built CLI)', () => {
  let t: TestToken;
  let work: string;
  let recordFile: string;
  let serve: ServeProcess;
  let port: number;
  let client: PopClient;
  let ecId: string;

  const records = (): Array<{ application: string; label: string }> =>
    (JSON.parse(readFileSync(recordFile, 'utf8')) as { records: Array<{ application: string; label: string }> })
      .records;
  const signRequest = () =>
    signV3Request({
      method: 'POST',
      host: `127.0.0.1:${port}`,
      query: {
        CertificateId: ecId,
        Algorithm: 'ECDSA_SHA_256',
        MessageType: 'RAW',
        // A message no log line could contain by chance: the leak check looks for every message in the logs.
        Message: Buffer.from('shared-record-file probe 7c1e').toString('base64'),
      },
      action: 'CertificatePrivateKeySign',
      version: KMS_VERSION,
      accessKeyId: ACCESS_KEY_ID,
      secret: ACCESS_KEY_SECRET,
      date: acsDate(),
      nonce: randomUUID(),
    });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'p11bridge-recordfile-'));
    recordFile = join(work, 'records.json');
    t = createTestToken({ overrides: { metadataStore: 'file', metadataFile: recordFile } });
    const { leaves } = await provisionTestToken(t);
    ecId = leaves.find((l) => l.keySpec === 'EC_P256')?.id ?? '';
    const config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2, shutdownTimeoutMs: 3000 },
        tokens: [
          daemonTokenEntry(t, {
            metadataStore: 'file',
            metadataFile: recordFile,
            // Far beyond the test: only the sibling refresh can carry a change to the other worker.
            indexRefreshMs: 60_000,
          }),
        ],
        auth: { accessKeys: [{ id: ACCESS_KEY_ID, secret: { env: 'RECORD_FILE_SECRET' } }] },
        // Debug: a refused request's reason is logged at debug (once per fault at warn); a failure prints them.
        logging: { level: 'debug' },
      }),
    );
    serve = new ServeProcess(config, { RECORD_FILE_SECRET: ACCESS_KEY_SECRET });
    port = (await serve.waitFor((l) => l.msg === 'cluster listening')).port ?? 0;
    client = pop(
      { endpoint: `127.0.0.1:${port}`, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET },
      KMS_VERSION,
    );
  });

  afterAll(async () => {
    if (serve && serve.proc.exitCode === null) {
      serve.proc.kill('SIGTERM');
      await serve.exited();
    }
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('keeps the record of each of six CreateCertificate calls made at once through both workers', () =>
    serve.explainFailure(async () => {
      const before = records().length;
      // A 503 is KMS's "try again later", and an application retries it: only under a full suite's load (two
      // clean-clone CI runs of 2026-12-06) one of six calls got one. A refused call must leave no record behind (the
      // count below), and what the daemon said of it is printed. Anything else fails the test.
      const mark = serve.lines.length;
      const retried: string[] = [];
      const create = async (i: number): Promise<{ body: Record<string, unknown> }> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await client.request(
              'CreateCertificate',
              { Subject: `CN=record-${i}.example,OU=r,O=p11bridge,C=CN`, KeySpec: 'EC_P256' },
              'POST',
            );
          } catch (e) {
            if (attempt >= 3 || !/ServiceUnavailableTemporary/.test((e as Error).name)) throw e;
            retried.push(`call ${i}, attempt ${attempt}: ${(e as Error).name}`);
            await new Promise((r) => setTimeout(r, 200 * attempt));
          }
        }
      };
      const made = await Promise.all(Array.from({ length: 6 }, (_, i) => create(i)));
      if (retried.length > 0) {
        const why = serve.since(
          mark,
          (l) => l.msg === 'request refused' || (typeof l.level === 'number' && l.level >= 40),
        );
        console.warn(`retried after a 503: ${retried.join('; ')}\n${why.map((l) => JSON.stringify(l)).join('\n')}`);
      }
      const ids = made.map((r) => String(r.body.CertificateId));
      expect(records()).toHaveLength(before + 6);
      expect(records().map((r) => r.label)).toEqual(expect.arrayContaining(ids));
      // Each new identity is known to both workers as PENDING, its record authenticated. A worker learns of its
      // sibling's creation by the sibling refresh, asynchronously (as with records on the token): asked again
      // until a deadline, never answered wrongly meanwhile (only NotFound, before the refresh).
      for (const id of ids) {
        const until = Date.now() + 5000;
        for (;;) {
          const d = await client.request('DescribeCertificate', { CertificateId: id }, 'POST').catch((e: unknown) => e);
          if (!(d instanceof Error)) {
            expect((d as { body: Record<string, unknown> }).body.Status).toBe('PENDING');
            break;
          }
          expect(d.name).toMatch(/Certificate\.NotFound/);
          if (Date.now() > until) throw d;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }));

  it('applies a status change made through one worker on every worker at once', () =>
    serve.explainFailure(async () => {
      await client.request('UpdateCertificateStatus', { CertificateId: ecId, Status: 'INACTIVE' }, 'POST');
      await new Promise((r) => setTimeout(r, 100));
      const refused = await Promise.all(Array.from({ length: 6 }, () => sendOnNewConnection(port, signRequest())));
      expect(refused.map((a) => [a.status, a.body.Code])).toEqual(Array(6).fill([409, 'Rejected.Disabled']));
      await client.request('UpdateCertificateStatus', { CertificateId: ecId, Status: 'ACTIVE' }, 'POST');
      await new Promise((r) => setTimeout(r, 100));
      const accepted = await Promise.all(Array.from({ length: 6 }, () => sendOnNewConnection(port, signRequest())));
      expect(accepted.map((a) => a.status)).toEqual(Array(6).fill(200));
    }));
});
