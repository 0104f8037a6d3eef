import { rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { deleteSoftHsmToken } from '../../src/cli/softhsm';
import { ServeProcess } from '../helpers/serveProcess';
import { createTestToken, daemonTokenEntry, provisionTestToken, type TestToken } from '../helpers/token';

jest.setTimeout(60_000);

/**
 * The primary's last rung: when no worker has been able to serve for `server.supervision.noServeExitMs`, it exits
 * non-zero (69), so that its own supervisor (systemd `Restart=on-failure`) acts — instead of exiting 0, or waiting
 * forever while it restarts workers that cannot open their token.
 */
describe('cluster supervision when no worker can serve (real SoftHSM2, built CLI)', () => {
  let t: TestToken;
  let work: string;
  let serve: ServeProcess;

  beforeAll(async () => {
    t = createTestToken();
    await provisionTestToken(t);
    work = mkdtempSync(join(tmpdir(), 'p11bridge-supervision-'));
  });

  afterAll(async () => {
    if (serve && serve.proc.exitCode === null) {
      serve.proc.kill('SIGKILL');
      await serve.exited();
    }
    t?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('retries failed worker restarts with backoff, then exits 69 once no worker has served for noServeExitMs', async () => {
    const config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2, supervision: { noServeExitMs: 4000 } },
        tokens: [daemonTokenEntry(t, { sessions: { size: 1 }, timeouts: { startMs: 500 } })],
        auth: { accessKeys: [{ id: 'LTAI5tSUPERVISION0001', secret: { env: 'SUPERVISION_SECRET' } }] },
      }),
    );
    serve = new ServeProcess(config, { SUPERVISION_SECRET: 'supervision-secret' });
    await serve.waitFor((l) => l.msg === 'cluster listening');
    // The token disappears (deleted underneath), then both workers die: every replacement fails to start.
    deleteSoftHsmToken(t.conf, t.label);
    const killedAt = Date.now();
    for (const pid of serve.workers()) process.kill(pid, 'SIGKILL');
    const code = await serve.exited();
    const after = Date.now() - killedAt;
    const restarts = serve.lines.filter((l) => l.msg === 'worker restart failed').length;
    console.log(`primary exited ${code} after ${after} ms; ${restarts} failed restarts retried`);
    expect(code).toBe(69);
    expect(restarts).toBeGreaterThanOrEqual(2);
    // The primary checks every 500 ms when a worker last listened, so it may give up up to one tick early.
    expect(after).toBeGreaterThanOrEqual(4000 - 500);
    expect(after).toBeLessThan(20000);
    expect(serve.lines.some((l) => l.msg === 'no worker could serve: the primary gives up')).toBe(true);
  });
});
