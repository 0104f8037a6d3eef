/**
 * The demo's KMS signing keys (issue 14 "Done when"), through the built CLI on a throwaway demo home
 * (P11BRIDGE_HOME): `demo provision` creates one SIGN/VERIFY key per spec SoftHSM2 generates; `demo --json` lists
 * them in a `keys` array beside `certificates`; a home whose token lost its keys (a home made before the demo had
 * keys) gets new ones on its next start, certificates untouched; `npm start`'s banner shows them; and each one
 * signs through `@alicloud/kms20160120` 1.2.0 (V1) and openapi-client callApi (V3), verified by node:crypto and
 * `openssl` against the `publicKeyPem` the demo printed.
 */
import { AsymmetricSignRequest, GetPublicKeyRequest } from '@alicloud/kms20160120';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { DemoInfo } from '../../src/cli/demo';
import { kmsClient, teaCaller, type Target } from '../helpers/clients';
import { openssl, Scratch } from '../helpers/verify';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'main.js');
const home = mkdtempSync(join(tmpdir(), 'p11bridge-demo-keys-'));
const env = { ...process.env, P11BRIDGE_HOME: home, P11BRIDGE_WORKERS: '1', P11BRIDGE_LOG_LEVEL: 'warn' };
const scratch = new Scratch();
/** What SoftHSM2 2.6 generates of the KMS asymmetric specs (EC_SM2 needs an SM2 token). */
const SOFTHSM_SPECS = ['RSA_2048', 'RSA_3072', 'EC_P256', 'EC_P256K'];

let daemon: ChildProcessByStdio<null, Readable, Readable> | undefined;
let banner = '';
let before: DemoInfo;
let info: DemoInfo;

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', input: '' });
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const demoJson = (): DemoInfo => JSON.parse(cli(['demo', '--json'])) as DemoInfo;

/**
 * Destroys every KMS key of the demo token (key pairs and records) in a child process, with the daemon's own
 * token code: the token as a demo home provisioned before the demo had KMS keys left it.
 */
function dropDemoKeys(): void {
  const script = `
    const { loadConfigFile } = require(${JSON.stringify(join(ROOT, 'dist/config/load'))});
    const { TokenManager } = require(${JSON.stringify(join(ROOT, 'dist/token/tokenManager'))});
    const { keysOf } = require(${JSON.stringify(join(ROOT, 'dist/identities/keys/keyView'))});
    const { destroyKeyPair, destroyDataObjects } = require(${JSON.stringify(join(ROOT, 'dist/token/objects'))});
    const { KMS_KEY_APPLICATION } = require(${JSON.stringify(join(ROOT, 'dist/token/metadata'))});
    const { silentLogger } = require(${JSON.stringify(join(ROOT, 'dist/observability/logger'))});
    process.env.SOFTHSM2_CONF = ${JSON.stringify(join(home, 'softhsm2.conf'))};
    (async () => {
      const config = loadConfigFile(${JSON.stringify(join(home, 'config.yaml'))});
      const t = new TokenManager(config.tokens[0], silentLogger());
      await t.open();
      for (const k of keysOf(t).keys) {
        for (const v of k.versions) await destroyKeyPair(t, v.label);
        await destroyDataObjects(t, KMS_KEY_APPLICATION, k.keyId);
      }
      await t.close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', input: '' });
  if (r.status !== 0) throw new Error(`dropping the demo keys failed: ${r.stderr}`);
}

function startDemo(): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'demo', 'serve', '--port', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon = child;
  let out = '';
  let err = '';
  return new Promise((done, fail) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('npx p11bridge demo --json')) done(out);
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('exit', (code) => fail(new Error(`demo serve exited with ${code}: ${err}${out}`)));
  });
}

const target = (i: DemoInfo): Target => ({
  endpoint: i.endpoint,
  accessKeyId: i.accessKeyId,
  accessKeySecret: i.accessKeySecret,
});

beforeAll(async () => {
  cli(['demo', 'provision']);
  before = demoJson();
  dropDemoKeys();
  banner = await startDemo();
  info = demoJson();
}, 180_000);

afterAll(async () => {
  const child = daemon;
  if (child && child.exitCode === null) {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
  scratch.cleanup();
});

describe('the demo KMS signing keys', () => {
  test('demo provision creates one SIGN/VERIFY key per spec SoftHSM2 generates, listed in a keys array', () => {
    expect(before.keys.map((k) => [k.keySpec, k.keyUsage])).toEqual(SOFTHSM_SPECS.map((s) => [s, 'SIGN/VERIFY']));
    for (const k of before.keys) {
      expect(Object.keys(k).sort()).toEqual(['keyId', 'keySpec', 'keyUsage', 'keyVersionId', 'publicKeyPem']);
      expect(k.keyId).toMatch(/^[0-9a-f-]{36}$/);
      expect(k.keyVersionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(k.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    }
    expect(before.certificates.length).toBeGreaterThan(0);
  });

  test('a demo home whose token has no KMS keys gets them on its next start; its certificates stay as they were', () => {
    expect(info.keys.map((k) => k.keySpec)).toEqual(SOFTHSM_SPECS);
    const old = new Set(before.keys.map((k) => k.keyId));
    expect(info.keys.filter((k) => old.has(k.keyId))).toEqual([]);
    expect(info.certificates.map((c) => c.id)).toEqual(before.certificates.map((c) => c.id));
  });

  test('a second start creates no more keys', () => {
    expect(demoJson().keys.map((k) => k.keyId)).toEqual(info.keys.map((k) => k.keyId));
  });

  test('the banner lists every demo key with its version and spec', () => {
    expect(banner).toContain('KMS signing keys');
    for (const k of info.keys) expect(banner).toContain(`${k.keyId}  ${k.keyVersionId}  ${k.keySpec}`);
  });

  test.each(SOFTHSM_SPECS)(
    'the %s demo key signs through the 1.2.0 client (V1) and callApi (V3); node:crypto and openssl verify with its publicKeyPem',
    async (spec) => {
      const k = info.keys.find((x) => x.keySpec === spec);
      if (!k) throw new Error(`no ${spec} demo key`);
      const v1 = kmsClient(target(info));
      const v3 = teaCaller(target(info));
      const pub = await v1.getPublicKey(new GetPublicKeyRequest({ keyId: k.keyId, keyVersionId: k.keyVersionId }));
      expect(createPublicKey(pub.publicKey).export({ type: 'spki', format: 'der' })).toEqual(
        createPublicKey(k.publicKeyPem).export({ type: 'spki', format: 'der' }),
      );
      const algorithm = spec.startsWith('RSA') ? 'RSA_PKCS1_SHA_256' : 'ECDSA_SHA_256';
      const message = Buffer.from(`demo key ${spec}`);
      const digest = createHash('sha256').update(message).digest();
      const s1 = await v1.asymmetricSign(
        new AsymmetricSignRequest({
          keyId: k.keyId,
          keyVersionId: k.keyVersionId,
          algorithm,
          digest: digest.toString('base64'),
        }),
      );
      const s3 = await v3('AsymmetricSign', {
        KeyId: k.keyId,
        KeyVersionId: k.keyVersionId,
        Algorithm: algorithm,
        Digest: digest.toString('base64'),
      });
      for (const value of [s1.value, String(s3.body.Value)]) {
        const sig = Buffer.from(value, 'base64');
        expect(verify('sha256', message, { key: createPublicKey(k.publicKeyPem), dsaEncoding: 'der' }, sig)).toBe(true);
        const r = openssl([
          'dgst',
          '-sha256',
          '-verify',
          scratch.file(k.publicKeyPem, 'pem'),
          '-signature',
          scratch.file(sig),
          scratch.file(message),
        ]);
        expect(r.output).toMatch(/Verified OK/);
      }
    },
  );
});
