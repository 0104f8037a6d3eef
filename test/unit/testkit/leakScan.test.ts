import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanForLeaks } from '../../helpers/leakScan';

/** The suite's leak check (test/helpers/leakCheck.ts) must be able to fail: a planted leak is found and named. */
describe('leak scan', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-leaks-'));
    mkdirSync(join(dir, 'logs', 'a'), { recursive: true });
    mkdirSync(join(dir, 'audit', 'b'), { recursive: true });
    writeFileSync(join(dir, 'secrets.1.jsonl'), `${JSON.stringify('0123456789abcdef')}\n${JSON.stringify('1234')}\n`);
    const contents = Array.from({ length: 5000 }, (_, i) => JSON.stringify(`message number ${i} of the run`));
    writeFileSync(join(dir, 'contents.2.jsonl'), `${contents.join('\n')}\n`);
    writeFileSync(join(dir, 'logs', 'a', 'daemon.log'), `${'{"msg":"request","status":200}\n'.repeat(20000)}`);
    writeFileSync(join(dir, 'audit', 'b', 'audit.jsonl'), '{"seq":1,"type":"open","prev":"00"}\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing in clean logs, and ignores recorded values too short to mean anything', () => {
    const r = scanForLeaks(dir);
    expect(r).toMatchObject({ files: 2, secrets: 1, contents: 5000, leaks: [] });
  });

  it('names a secret in a log file and a message content in an audit file', () => {
    writeFileSync(join(dir, 'logs', 'a', 'daemon.log'), '{"msg":"login","pin":"0123456789abcdef"}\n', { flag: 'a' });
    writeFileSync(join(dir, 'audit', 'b', 'audit.jsonl'), '{"seq":2,"data":"message number 4321 of the run"}\n', {
      flag: 'a',
    });
    const r = scanForLeaks(dir);
    expect(r.leaks).toEqual([
      `${join(dir, 'logs', 'a', 'daemon.log')}: secret "0123456789ab…"`,
      `${join(dir, 'audit', 'b', 'audit.jsonl')}: content "message numb…"`,
    ]);
  });
});
