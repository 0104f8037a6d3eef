/**
 * Decision 0032: processes that write one token take turns, each right after a find. Two real processes (the
 * built token layer in two child processes, as two cluster workers are) create objects on one SoftHSM2 token at
 * the same time; afterwards each must see every object of both. Without the turns, SoftHSM2 2.6.1 loses one
 * writer's change to its generation counter and that process never sees part of the other's objects (measured
 * with bare pkcs11js writers: 8 of 8 runs).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestToken, type TestToken } from '../helpers/token';

const DIST = resolve(__dirname, '..', '..', 'dist');
const OBJECTS = 15;

/** A writer: opens the token through TokenManager, creates OBJECTS data objects, then counts both writers' objects. */
const WRITER = `
const { setTimeout: delay } = require('node:timers/promises');
const { readFileSync, appendFileSync } = require('node:fs');
const pkcs11 = require('pkcs11js');
const [dist, configJson, me, syncFile, objects] = process.argv.slice(1);
const { TokenManager } = require(dist + '/token/tokenManager.js');
const { tokenSchema } = require(dist + '/config/schema.js');
const { silentLogger } = require(dist + '/observability/logger.js');
(async () => {
  const token = new TokenManager(tokenSchema.parse(JSON.parse(configJson)), silentLogger());
  await token.open();
  const application = 'p11bridge-write-turns-test';
  await token.admin(async (session, lib) => {
    for (let i = 0; i < Number(objects); i++) {
      await lib.C_CreateObject(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_PRIVATE, value: true },
        { type: pkcs11.CKA_APPLICATION, value: application },
        { type: pkcs11.CKA_LABEL, value: me + '-' + i },
        { type: pkcs11.CKA_VALUE, value: Buffer.from('x') },
      ]);
    }
  });
  appendFileSync(syncFile, me + '\\n');
  while (readFileSync(syncFile, 'utf8').trim().split('\\n').length < 2) await delay(20);
  await delay(200);
  const counts = [];
  for (let k = 0; k < 3; k++) {
    counts.push(await token.admin(async (session, lib) =>
      (await lib.findObjects(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_APPLICATION, value: application },
      ])).length));
    await delay(300);
  }
  await token.close();
  process.stdout.write(JSON.stringify({ me, counts }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function writer(t: TestToken, me: string, syncFile: string): Promise<{ me: string; counts: number[] }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['-e', WRITER, DIST, JSON.stringify(t.tokenConfig), me, syncFile, String(OBJECTS)],
      { env: { ...process.env, SOFTHSM2_CONF: t.conf }, timeout: 60000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`writer ${me}: ${err.message}: ${stderr}`));
        else resolvePromise(JSON.parse(stdout) as { me: string; counts: number[] });
      },
    );
  });
}

describe('token writes from several processes (decision 0032, real SoftHSM2 token, built token layer)', () => {
  let work: string;
  const tokens: TestToken[] = [];

  beforeAll(() => {
    if (!existsSync(join(DIST, 'token', 'tokenManager.js'))) throw new Error('run `npm run build` first');
    work = mkdtempSync(join(tmpdir(), 'p11bridge-writeturns-'));
  });

  afterAll(() => {
    for (const t of tokens) t.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('lets each of two processes that wrote one token at the same time see every object of both', async () => {
    const seen: string[] = [];
    for (let run = 1; run <= 3; run++) {
      const t = createTestToken();
      tokens.push(t);
      const sync = join(work, `sync-${run}`);
      const results = await Promise.all([writer(t, 'A', sync), writer(t, 'B', sync)]);
      expect(readFileSync(sync, 'utf8').trim().split('\n').sort()).toEqual(['A', 'B']);
      for (const r of results) seen.push(`run ${run}: ${r.me} saw ${r.counts.join(',')}`);
    }
    const all = `${2 * OBJECTS},${2 * OBJECTS},${2 * OBJECTS}`;
    expect(seen.filter((s) => !s.endsWith(` saw ${all}`))).toEqual([]);
  }, 120000);
});
