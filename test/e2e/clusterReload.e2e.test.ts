/**
 * Reload in cluster mode through the built CLI (issue 16): `p11bridge reload` checks the config and sends
 * SIGHUP to the primary, which checks it again and has every worker apply it. A key added to the file serves
 * from both workers within a second; a bad config is refused with one line and the running one kept.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { newAccessKey } from '../../src/cli/accessKeys';
import { pop } from '../helpers/clients';
import { createTestToken, provisionTestToken, type TestToken } from '../helpers/token';

const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

interface LogLine {
  msg?: string;
  port?: number;
  pid?: number;
  reason?: string;
}

jest.setTimeout(60_000);

describe('cluster reload: `p11bridge reload` with two workers (built CLI, real SoftHSM2)', () => {
  let t: TestToken;
  let work: string;
  let proc: ChildProcess;
  const lines: LogLine[] = [];
  let port = 0;
  const first = newAccessKey();
  const second = newAccessKey();
  let configFile: string;
  let pidFile: string;

  const writeConfig = (keys: Array<{ id: string; file: string }>, extra: Record<string, unknown> = {}): void => {
    writeFileSync(
      configFile,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2, shutdownTimeoutMs: 2000, pidFile, ...extra },
        tokens: [
          { warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile }, sessions: { size: 2 } },
        ],
        auth: { accessKeys: keys.map((k) => ({ id: k.id, secret: { file: k.file } })) },
      }),
    );
  };

  const waitFor = async (pred: (l: LogLine) => boolean, ms = 20000): Promise<LogLine> => {
    const until = Date.now() + ms;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() > until) throw new Error('log line not seen in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const reloadCli = (): { status: number | null; out: string } => {
    const r = spawnSync('node', [CLI, 'reload', '--config', configFile], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  const quotaAs = (k: { accessKeyId: string; accessKeySecret: string }) =>
    pop({ endpoint: `127.0.0.1:${port}`, ...k }, '2020-04-07').request('GetCertWarehouseQuota', {});

  beforeAll(async () => {
    t = createTestToken();
    await provisionTestToken(t);
    work = mkdtempSync(join(tmpdir(), 'p11bridge-cluster-reload-'));
    configFile = join(work, 'config.yaml');
    pidFile = join(work, 'p11bridge.pid');
    for (const [k, name] of [
      [first, 'first'],
      [second, 'second'],
    ] as const)
      writeFileSync(join(work, name), k.accessKeySecret, { mode: 0o600 });
    writeConfig([{ id: first.accessKeyId, file: join(work, 'first') }]);
    proc = spawn('node', [CLI, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const p of parts) {
        try {
          lines.push(JSON.parse(p) as LogLine);
        } catch {
          // not a log line
        }
      }
    });
    port = (await waitFor((l) => l.msg === 'cluster listening')).port ?? 0;
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('adds a key on every worker within a second of `p11bridge reload`', async () => {
    await expect(quotaAs(second)).rejects.toMatchObject({ code: 'InvalidAccessKeyId.NotFound' });
    writeConfig([
      { id: first.accessKeyId, file: join(work, 'first') },
      { id: second.accessKeyId, file: join(work, 'second') },
    ]);
    const started = Date.now();
    const r = reloadCli();
    expect(r.status).toBe(0);
    await waitFor((l) => l.msg === 'cluster reloaded');
    expect(Date.now() - started).toBeLessThan(1000 + 500); // the CLI's own node start is in this time
    // pop-core opens a new connection per request here; the primary spreads them over both workers.
    for (let i = 0; i < 6; i++) expect((await quotaAs(second)).status).toBe(200);
  });

  it('refuses a bad config with one line, in the CLI and in the primary, and keeps serving', async () => {
    writeConfig([{ id: first.accessKeyId, file: join(work, 'first') }], { bogus: 1 });
    const r = reloadCli();
    expect(r.status).toBe(1);
    expect(r.out.trim().split('\n')).toEqual([
      'p11bridge reload: refused: invalid configuration: server: Unrecognized key: "bogus"',
    ]);
    // Straight to the daemon, bypassing the CLI's check: the primary refuses it too.
    process.kill(proc.pid as number, 'SIGHUP');
    const refused = await waitFor((l) => l.msg === 'reload refused; the running configuration is kept');
    expect(refused.reason).toMatch(/Unrecognized key: "bogus"/);
    expect((await quotaAs(second)).status).toBe(200);
  });
});
