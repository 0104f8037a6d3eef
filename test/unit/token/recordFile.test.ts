import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from '../../../src/token/records/fileLock';
import { parseRecordFile, serializeRecordFile } from '../../../src/token/records/recordFile';
import { fileMacInput, macInput } from '../../../src/token/records/recordMac';

describe('record files (metadataStore: file)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-recordfile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back what it wrote, byte for byte', () => {
    const records = [
      { application: 'p11bridge', label: 'a', value: Buffer.from('{"status":"ACTIVE"}'), mac: Buffer.alloc(32, 1) },
      { application: 'p11bridge-kms-key', label: 'k', value: Buffer.from([0, 255, 10]), mac: Buffer.alloc(32, 2) },
    ];
    const state = { generation: 7, mac: Buffer.alloc(32, 3), records };
    expect(parseRecordFile(serializeRecordFile(state))).toEqual({ kind: 'records', ...state });
  });

  it('calls a file damaged when it is not JSON, has another format, or an unknown field', () => {
    expect(parseRecordFile('{"format":"p11bridge-records/1","rec')).toMatchObject({ kind: 'damaged' });
    expect(parseRecordFile('{"format":"p11bridge-records/2","generation":1,"mac":"","records":[]}')).toMatchObject({
      kind: 'damaged',
    });
    expect(
      parseRecordFile(
        '{"format":"p11bridge-records/1","generation":1,"mac":"","records":[{"application":"p","label":"l","value":"","mac":"","x":1}]}',
      ),
    ).toMatchObject({ kind: 'damaged' });
  });

  it('authenticates application, label and value apart: moving bytes between fields changes the MAC input', () => {
    const v = Buffer.from('x');
    const inputs = [
      macInput('p11bridge', 'ab', v),
      macInput('p11bridge', 'a', Buffer.from('bx')),
      macInput('p11bridge-kms-key', 'ab', v),
      macInput('p11bridgea', 'b', v),
    ].map((b) => b.toString('hex'));
    expect(new Set(inputs).size).toBe(inputs.length);
  });

  it('authenticates a whole file apart from record order, but not apart from its generation or any record', () => {
    const r = (label: string, mac: number) => ({ application: 'p11bridge', label, mac: Buffer.alloc(32, mac) });
    const base = fileMacInput(3, [r('a', 1), r('b', 2)]).toString('hex');
    expect(fileMacInput(3, [r('b', 2), r('a', 1)]).toString('hex')).toBe(base);
    for (const other of [
      fileMacInput(2, [r('a', 1), r('b', 2)]),
      fileMacInput(3, [r('a', 1)]),
      fileMacInput(3, [r('a', 1), r('b', 9)]),
      fileMacInput(3, [r('a', 1), r('c', 2)]),
    ]) {
      expect(other.toString('hex')).not.toBe(base);
    }
  });

  it('lets four processes writing one file take turns under the lock: no update is lost', async () => {
    const counter = join(dir, 'counter');
    writeFileSync(counter, '0');
    const lock = join(__dirname, '../../../src/token/records/fileLock.ts');
    // Each child increments the counter 25 times, read-modify-write with a pause in between, under the lock. The
    // lock's source is transpiled in the child (it imports only node: modules), so the test needs no build.
    const script = `
      const fs = require('node:fs');
      const ts = require('typescript');
      const js = ts.transpileModule(fs.readFileSync(${JSON.stringify(lock)}, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const mod = { exports: {} };
      new Function('require', 'module', 'exports', js)(require, mod, mod.exports);
      const { withFileLock } = mod.exports;
      (async () => {
        for (let i = 0; i < 25; i++) {
          await withFileLock(${JSON.stringify(counter)}, async () => {
            const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8'));
            await new Promise((r) => setTimeout(r, 1));
            fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
          });
        }
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const codes = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ['-e', script], {
              stdio: 'inherit',
              cwd: join(__dirname, '../../..'),
            });
            child.on('exit', resolve);
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    expect(readFileSync(counter, 'utf8')).toBe('100');
  });

  it('clears a lock left by a process that no longer exists', async () => {
    const path = join(dir, 'stale');
    writeFileSync(`${path}.lock`, '999999999\n');
    await expect(withFileLock(path, () => Promise.resolve('done'), { waitMs: 2000, staleMs: 60000 })).resolves.toBe(
      'done',
    );
  });
});
