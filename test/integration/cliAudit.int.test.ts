/**
 * Operator commands in the audit log (issue 18, decision 0030): `p11bridge certs|keys|provision` through the built
 * CLI on a throwaway SoftHSM2 token write their own chain, `<audit.file>-cli`, whose checkpoints the audit key in
 * the token signs; `p11bridge audit verify --config` finds and verifies it, and detects tampering.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createKey } from '../../src/identities/keys/lifecycle';
import { createTestToken, openToken, provisionTestToken, type TestToken } from '../helpers/token';

const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');
const run = promisify(execFile);

interface Entry {
  seq: number;
  type: string;
  chain?: string;
  product?: string;
  action?: string;
  command?: string;
  identity?: string;
  detail?: Record<string, unknown>;
  operator?: { user?: string; uid?: number; host?: string };
  outcome?: string;
  reason?: string;
}

describe('operator commands in the audit log (real SoftHSM2 token, built CLI)', () => {
  let t: TestToken;
  let config: string;
  let cliFile: string;
  let keyId: string;
  let leafId: string;

  const cli = (...args: string[]): { code: number | null; out: string; err: string } => {
    const r = spawnSync(process.execPath, [CLI, ...args, '--config', config], { encoding: 'utf8', input: '' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ok = (...args: string[]): string => {
    const r = cli(...args);
    if (r.code !== 0) throw new Error(`p11bridge ${args.join(' ')} exited ${r.code}: ${r.err}`);
    return r.out;
  };
  const entries = (): Entry[] =>
    readFileSync(cliFile, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Entry);
  const changes = (): Entry[] => entries().filter((e) => e.type === 'lifecycle');

  beforeAll(async () => {
    t = createTestToken();
    const provisioned = await provisionTestToken(t);
    leafId = provisioned.leaves[0]?.id ?? '';
    const token = await openToken(t);
    try {
      const key = await createKey([token], {
        keySpec: 'EC_P256',
        keyUsage: 'SIGN/VERIFY',
        description: 'audited from the command line',
        tags: {},
        scope: { regionId: 'cn-hangzhou', accountId: '1234567890123456' },
        creator: 'test',
      });
      keyId = key.keyId;
    } finally {
      await token.close();
    }
    const auditFile = join(t.dir, 'audit.jsonl');
    cliFile = join(t.dir, 'audit-cli.jsonl');
    config = join(t.dir, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        tokens: [{ warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile } }],
        auth: { accessKeys: [{ id: 'LTAI5tCLITEST', secret: { env: 'UNUSED_IN_CLI' } }] },
        audit: { file: auditFile, checkpoint: { entries: 1000, seconds: 3600 } },
      }),
    );
  }, 60000);

  afterAll(() => t.cleanup());

  it('records one entry per lifecycle change with who ran it, and audit verify --config passes with the key pinned', () => {
    const created = JSON.parse(
      ok('certs', 'create', '--subject', 'CN=audited.example,OU=ops,O=Example,C=CN', '--key-spec', 'EC_P256', '--json'),
    ) as { id: string };
    ok('certs', 'status', '--id', leafId, '--status', 'INACTIVE');
    ok('keys', 'disable', '--key-id', keyId);
    ok('keys', 'enable', '--key-id', keyId);
    ok('certs', 'delete', '--id', created.id, '--yes');
    const provisioned = JSON.parse(ok('provision', '--json')) as { ca: { id: string }; leaves: Array<{ id: string }> };

    const user = userInfo().username;
    expect(changes().map((e) => [e.action, e.command, e.identity, e.outcome])).toEqual([
      ['CreateCertificate', 'certs create', created.id, 'OK'],
      ['UpdateCertificateStatus', 'certs status', leafId, 'OK'],
      ['DisableKey', 'keys disable', keyId, 'OK'],
      ['EnableKey', 'keys enable', keyId, 'OK'],
      ['DeleteCertificate', 'certs delete', created.id, 'OK'],
      ...[provisioned.ca, ...provisioned.leaves].map((l) => ['Provision', 'provision', l.id, 'OK']),
    ]);
    for (const e of changes()) expect(e).toMatchObject({ product: 'cli', operator: { user } });
    expect(changes()[0]?.detail).toEqual({ KeySpec: 'EC_P256' });
    expect(changes()[1]?.detail).toEqual({ Status: 'INACTIVE' });
    // Each command opens the chain (one `open` entry) and closes it with a checkpoint.
    expect(entries().filter((e) => e.type === 'open' && e.chain === 'cli')).toHaveLength(6);
    expect(entries().filter((e) => e.type === 'checkpoint').length).toBeGreaterThanOrEqual(6);

    // The first command generated the audit key in the token and wrote its public key beside the log.
    expect(existsSync(join(t.dir, 'audit.jsonl.key.pem'))).toBe(true);
    const v = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--config', config], { encoding: 'utf8' });
    expect(v.stdout).toMatch(/^OK chain cli \(.*audit-cli\.jsonl\): entries 1\.\.\d+, \d+ checkpoints verified/);
    expect(v.stdout).toContain('(pinned)');
    expect(v.stdout).toContain('no unsigned tail');
    expect(v.status).toBe(0);
  }, 120000);

  it('records a command that failed with its code, and exits non-zero', () => {
    const r = cli('certs', 'status', '--id', 'no-such-certificate', '--status', 'REVOKED');
    expect(r.code).not.toBe(0);
    const last = changes().at(-1);
    expect(last).toMatchObject({
      action: 'UpdateCertificateStatus',
      identity: 'no-such-certificate',
      detail: { Status: 'REVOKED' },
    });
    expect(last?.outcome).not.toBe('OK');
  });

  it('keeps one chain when two commands run at once (the second waits for the lock)', async () => {
    const before = changes().length;
    await Promise.all([
      run(process.execPath, [CLI, 'keys', 'disable', '--key-id', keyId, '--config', config]),
      run(process.execPath, [CLI, 'certs', 'status', '--id', leafId, '--status', 'ACTIVE', '--config', config]),
    ]);
    expect(changes().length).toBe(before + 2);
    expect(existsSync(`${cliFile}.lock`)).toBe(false);
    const v = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--config', config], { encoding: 'utf8' });
    expect(v.stdout).toContain('OK chain cli');
    expect(v.status).toBe(0);
  }, 60000);

  it('refuses a change it cannot audit when the audit is required, and makes it unaudited (saying so) otherwise', () => {
    const at = (required: boolean): string => {
      const file = join(t.dir, `unwritable-${String(required)}.yaml`);
      writeFileSync(
        file,
        readFileSync(config, 'utf8').replace(
          /audit:\n {2}file: .*\n/,
          `audit:\n  file: ${join(t.dir, 'no-such-directory', 'audit.jsonl')}\n  required: ${String(required)}\n`,
        ),
      );
      return file;
    };
    const keysState = (): string =>
      (JSON.parse(ok('keys', 'describe', '--key-id', keyId, '--json')) as { KeyState: string }).KeyState;
    ok('keys', 'enable', '--key-id', keyId);
    const refused = spawnSync(process.execPath, [CLI, 'keys', 'disable', '--key-id', keyId, '--config', at(true)], {
      encoding: 'utf8',
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('cannot be written');
    expect(keysState()).toBe('Enabled');
    const unaudited = spawnSync(process.execPath, [CLI, 'keys', 'disable', '--key-id', keyId, '--config', at(false)], {
      encoding: 'utf8',
    });
    expect(unaudited.status).toBe(0);
    expect(unaudited.stderr).toContain('this command is not audited');
    expect(keysState()).toBe('Disabled');
  });

  it('detects an edited and a deleted entry in the operator chain, naming the line', () => {
    const lines = readFileSync(cliFile, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"action":"DisableKey"'));
    const key = join(t.dir, 'audit.jsonl.key.pem');

    const edited = join(t.dir, 'edited', 'audit-cli.jsonl');
    spawnSync('mkdir', ['-p', join(t.dir, 'edited')]);
    const e = [...lines];
    e[at] = (e[at] as string).replace('"action":"DisableKey"', '"action":"EnableKey"');
    writeFileSync(edited, e.join('\n'));
    const r1 = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--key', key, edited], { encoding: 'utf8' });
    expect(r1.stdout).toContain(`FAIL chain cli`);
    expect(r1.stdout).toContain(`audit-cli.jsonl:${at + 2}: entry seq`);
    expect(r1.status).toBe(1);

    const deleted = join(t.dir, 'deleted.jsonl');
    writeFileSync(deleted, lines.filter((_, i) => i !== at).join('\n'));
    const r2 = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--key', key, deleted], { encoding: 'utf8' });
    expect(r2.stdout).toMatch(/missing \(deleted\)/);
    expect(r2.status).toBe(1);

    // --config finds the operator chain by itself: a tampered file in place fails the whole verification.
    const original = join(t.dir, 'original.jsonl');
    copyFileSync(cliFile, original);
    writeFileSync(cliFile, e.join('\n'));
    try {
      const r3 = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--config', config], { encoding: 'utf8' });
      expect(r3.stdout).toContain('FAIL chain cli');
      expect(r3.status).toBe(1);
    } finally {
      copyFileSync(original, cliFile);
    }
  });
});
