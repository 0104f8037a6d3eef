import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { AuditChain } from '../../../src/audit/auditChain';
import { auditHealth } from '../../../src/audit/auditHealth';
import { lockChainFile } from '../../../src/audit/chainLock';
import { auditFilesOf, cliAuditFile, workerAuditFile } from '../../../src/audit/files';
import { silentLogger } from '../../../src/observability/logger';
import { instrumentAudit } from '../../../src/observability/metrics/auditMetrics';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'p11bridge-audit-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('audit file names', () => {
  it('names the worker and operator chains beside audit.file', () => {
    expect(workerAuditFile('/var/log/p/audit.jsonl', undefined)).toBe('/var/log/p/audit.jsonl');
    expect(workerAuditFile('/var/log/p/audit.jsonl', 2)).toBe('/var/log/p/audit-w2.jsonl');
    expect(cliAuditFile('/var/log/p/audit.jsonl')).toBe('/var/log/p/audit-cli.jsonl');
  });

  it('finds every chain of a config, current and rotated, and nothing else', () => {
    const names = [
      'audit.jsonl',
      'audit.jsonl.000000001000',
      'audit-w0.jsonl',
      'audit-w1.jsonl.000000000042',
      'audit-cli.jsonl',
      'audit-cli.jsonl.lock',
      'audit.jsonl.key.pem',
      'audit-other.jsonl',
      'auditXjsonl',
    ];
    for (const n of names) writeFileSync(join(dir, n), '');
    expect(auditFilesOf(join(dir, 'audit.jsonl')).map((f) => f.slice(dir.length + 1))).toEqual([
      'audit-cli.jsonl',
      'audit-w0.jsonl',
      'audit-w1.jsonl.000000000042',
      'audit.jsonl',
      'audit.jsonl.000000001000',
    ]);
  });
});

describe('the operator chain lock', () => {
  it('waits for a live holder and names it when the wait ends', async () => {
    const release = await lockChainFile(join(dir, 'audit-cli.jsonl'));
    expect(readFileSync(join(dir, 'audit-cli.jsonl.lock'), 'utf8').trim()).toBe(String(process.pid));
    await expect(lockChainFile(join(dir, 'audit-cli.jsonl'), 300)).rejects.toThrow(`is held by process ${process.pid}`);
    release();
    expect(existsSync(join(dir, 'audit-cli.jsonl.lock'))).toBe(false);
    (await lockChainFile(join(dir, 'audit-cli.jsonl'), 300))();
  });

  it('takes over the lock of a process that no longer runs', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    writeFileSync(join(dir, 'audit-cli.jsonl.lock'), `${gone.stdout}\n`);
    const release = await lockChainFile(join(dir, 'audit-cli.jsonl'), 300);
    expect(readFileSync(join(dir, 'audit-cli.jsonl.lock'), 'utf8').trim()).toBe(String(process.pid));
    release();
  });
});

describe('audit health', () => {
  const open = (path: string): AuditChain =>
    AuditChain.open(
      {
        path,
        chain: 'main',
        durability: 'write',
        writeTimeoutMs: 1000,
        checkpointEntries: 100,
        checkpointSeconds: 3600,
        rotateBytes: 1 << 20,
        rotateAgeSeconds: 0,
        signer: () => undefined,
        log: silentLogger(),
      },
      { required: false },
    );

  it('is ready while entries are written, and says why and since when once they cannot be', async () => {
    const good = open(join(dir, 'audit.jsonl'));
    await good.appendWritten('reload', { outcome: 'OK' });
    expect(auditHealth(good, true)).toEqual({ ready: true, required: true, writeFailures: 0 });
    await good.close();
    if (!existsSync('/dev/full')) throw new Error('this test needs /dev/full (writes fail with ENOSPC)');
    const full = open('/dev/full');
    await expect(full.appendWritten('reload', { outcome: 'OK' })).rejects.toThrow();
    const h = auditHealth(full, false);
    expect(h).toMatchObject({ ready: false, required: false, reason: 'audit entries cannot be written (ENOSPC)' });
    expect(h.writeFailures).toBe(1);
    expect(Date.now() - (h.since ?? 0)).toBeLessThan(60_000);
    await full.close(100);
  });

  it('exposes readiness as a gauge and failed writes as a counter that only grows', async () => {
    const registry = new Registry();
    let state = { ready: true, writeFailures: 0 };
    instrumentAudit(registry, () => state);
    const value = async (name: string): Promise<number | undefined> =>
      (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
    expect(await value('p11bridge_audit_ready')).toBe(1);
    expect(await value('p11bridge_audit_write_failures_total')).toBe(0);
    state = { ready: false, writeFailures: 3 };
    expect(await value('p11bridge_audit_ready')).toBe(0);
    expect(await value('p11bridge_audit_write_failures_total')).toBe(3);
    state = { ready: true, writeFailures: 5 };
    expect(await value('p11bridge_audit_write_failures_total')).toBe(5);
  });
});
