import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KMS_VERSION } from '../helpers/clients';
import { acsDate } from '../helpers/rawClient';
import { sendOnNewConnection } from '../helpers/newConnection';
import { ServeProcess } from '../helpers/serveProcess';
import { signV3Request } from '../helpers/signRequest';
import { createTestToken, provisionTestToken, type TestToken } from '../helpers/token';

const KEY = { id: 'LTAI5tMEMORYWINDOW01', secret: 'memory-window-secret-0001' };

// Two daemon processes start one after the other on one token.
jest.setTimeout(120_000);

describe('the memory replay window across a restart (`p11bridge serve`, one process, real SoftHSM2)', () => {
  let t: TestToken;
  let work: string;
  let config: string;
  let ecId: string;
  let serve: ServeProcess | undefined;

  const start = async (): Promise<number> => {
    serve = new ServeProcess(config, { MEMORY_WINDOW_SECRET: KEY.secret });
    return (await serve.waitFor((l) => l.msg === 'listening', 60_000)).port ?? 0;
  };
  const kill = async (): Promise<void> => {
    serve?.proc.kill('SIGKILL');
    await serve?.exited();
  };

  beforeAll(async () => {
    t = createTestToken();
    const { leaves } = await provisionTestToken(t);
    ecId = (leaves.find((l) => l.keySpec === 'EC_P256') ?? { id: '' }).id;
    work = mkdtempSync(join(tmpdir(), 'p11bridge-memory-window-'));
    config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 1 },
        tokens: [
          { warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile }, sessions: { size: 2 } },
        ],
        auth: { accessKeys: [{ id: KEY.id, secret: { env: 'MEMORY_WINDOW_SECRET' } }] },
        logging: { accessLog: false },
      }),
    );
  });

  afterAll(async () => {
    await kill();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses, after a crash and restart, a request the previous process accepted (InvalidTimeStamp.Expired)', async () => {
    const sign = (port: number) =>
      signV3Request({
        method: 'POST',
        host: `127.0.0.1:${port}`,
        query: { CertificateId: ecId },
        action: 'DescribeCertificate',
        version: KMS_VERSION,
        accessKeyId: KEY.id,
        secret: KEY.secret,
        date: acsDate(),
        nonce: randomUUID(),
      });
    const port = await start();
    const captured = sign(port);
    expect((await sendOnNewConnection(port, captured)).status).toBe(200);
    await kill();
    const again = await start();
    // Its nonce is forgotten with the process, but it was signed before this one started.
    const replayed = await sendOnNewConnection(again, captured);
    expect([replayed.status, replayed.body.Code]).toEqual([400, 'InvalidTimeStamp.Expired']);
    expect(String(replayed.body.Message)).toMatch(/earlier than the start of this server's replay protection/);
    // A request signed now is served from the moment the new process listens.
    expect((await sendOnNewConnection(again, sign(again))).status).toBe(200);
  });
});
