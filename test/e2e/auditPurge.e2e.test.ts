/**
 * The background key purge in the audit log (issue 18, decision 0030): a KMS key scheduled for deletion through the
 * official SDK is destroyed by the daemon's own purge once its window has ended (the purge's clock is moved 8 days
 * ahead; the gateway's stays real), and the daemon that purged records it in its chain, which still verifies.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { coreCaller } from '../helpers/clients';
import { startTestDaemon } from '../helpers/daemon';
import { CLI } from '../helpers/serveProcess';

const DAY_MS = 86_400_000;

describe('the key purge in the audit log', () => {
  it('records each key the purge destroys, with its versions, in the chain of the process that purged', async () => {
    let file = '';
    const d = await startTestDaemon({
      keyPurge: { everyMs: 200, now: () => new Date(Date.now() + 8 * DAY_MS) },
      configure: (raw) => {
        const audit = raw.audit as { file: string } | undefined;
        // The suite's scanned audit path when there is one (the leak check reads it), else beside the token.
        file = audit?.file ?? `${(raw.tokens as Array<{ pin: { file: string } }>)[0]?.pin.file ?? ''}.audit.jsonl`;
        raw.audit = { file, checkpoint: { entries: 1000, seconds: 3600 } };
      },
    });
    let keyId = '';
    let versions: string[] = [];
    try {
      const kms = coreCaller(d);
      const created = await kms('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY' });
      const meta = created.body.KeyMetadata as { KeyId: string; PrimaryKeyVersion: string };
      keyId = meta.KeyId;
      const second = await kms('CreateKeyVersion', { KeyId: keyId });
      const version = second.body.KeyVersion as { KeyVersionId: string };
      versions = [meta.PrimaryKeyVersion, version.KeyVersionId];
      await kms('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: '7' });
      // The sweep runs every 200 ms; its entry lingers up to 10 ms before it is written.
      for (let i = 0; i < 100 && !readFileSync(file, 'utf8').includes('"action":"PurgeKey"'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(d.daemon.tokens.tokens[0]?.keyPair(`${keyId}/${versions[0] ?? ''}`)).toBeUndefined();
    } finally {
      await d.stop();
    }
    const entries = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const purges = entries.filter((e) => e.action === 'PurgeKey');
    expect(purges).toEqual([
      expect.objectContaining({
        type: 'lifecycle',
        product: 'kms',
        source: 'purge',
        identity: keyId,
        versions: expect.arrayContaining(versions) as unknown,
        outcome: 'OK',
      }),
    ]);
    // The API's own lifecycle entries are there too, in the same chain, before the purge.
    const scheduled = entries.findIndex((e) => e.action === 'ScheduleKeyDeletion' && e.identity === keyId);
    expect(scheduled).toBeGreaterThan(-1);
    expect(entries.indexOf(purges[0] as Record<string, unknown>)).toBeGreaterThan(scheduled);
    const v = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--key', `${file}.key.pem`, file], {
      encoding: 'utf8',
    });
    expect(v.stdout).toMatch(/^OK chain main/);
    expect(v.stdout).toContain('no unsigned tail');
    expect(v.status).toBe(0);
  }, 60000);
});
