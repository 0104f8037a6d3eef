/**
 * An object that changes between the two calls pkcs11js makes for one C_GetAttributeValue (a length call, then a
 * value call): another application writing the token while the daemon reads its index. Unpatched pkcs11js 2.1.7
 * copied the new length from a NULL buffer and the process died of SIGSEGV (docs/upstream/pkcs11js-null-buffer.md);
 * the patched binding (patches/pkcs11js+2.1.7.patch, built by scripts/patch-pkcs11js.sh) reads the object again or
 * reports it, and the token layer skips it. The fault token's `empty` rule makes the change happen on cue (it
 * reports CKA_LABEL empty at the length call; SoftHSM2 then answers the value call's NULL buffer with the real
 * length, 36, and CKR_OK). The index is read by the real CLI in a child process, so a crash is seen as a signal.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { createFaultControl, faultTokenModule, type FaultControl } from '../helpers/faultToken';
import { createTestToken, provisionTestToken, type TestToken } from '../helpers/token';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'main.js');
const MARKER = 'p11bridge-pkcs11js-patch:get-attribute-value-changed:1';

interface ListedIdentity {
  readonly id: string;
  readonly type: string;
}

describe('an object that changes between the two calls of C_GetAttributeValue (fault token, child process)', () => {
  let t: TestToken;
  let control: FaultControl;
  let configFile: string;
  let ids: string[];

  beforeAll(async () => {
    t = createTestToken();
    const p = await provisionTestToken(t);
    ids = [p.ca.id, ...p.leaves.map((l) => l.id)].sort();
    control = createFaultControl(join(t.dir, 'fault'));
    configFile = join(t.dir, 'config.yaml');
    writeFileSync(
      configFile,
      stringify({
        tokens: [
          { warehouseId: 1, name: t.label, module: faultTokenModule(), tokenLabel: t.label, pin: { file: t.pinFile } },
        ],
        auth: { accessKeys: [{ id: 'x', secret: { env: 'UNUSED' } }] },
      }),
    );
  });

  afterAll(() => {
    control.cleanup();
    t.cleanup();
  });

  /** `p11bridge certs list --json` through the fault token: the token layer's full index read. */
  function listThroughFaultToken(): SpawnSyncReturns<string> {
    return spawnSync(process.execPath, [CLI, 'certs', 'list', '--config', configFile, '--json'], {
      env: { ...process.env, ...control.env, SOFTHSM2_CONF: t.conf, P11BRIDGE_LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 30000,
    });
  }

  function listedIds(child: SpawnSyncReturns<string>): string[] {
    return (JSON.parse(child.stdout) as ListedIdentity[]).map((r) => r.id).sort();
  }

  it('runs the patched pkcs11js binary (the install rebuilt it from patches/)', () => {
    const binary = readFileSync(join(ROOT, 'node_modules', 'pkcs11js', 'build', 'Release', 'pkcs11.node'));
    expect(binary.includes(MARKER)).toBe(true);
  });

  it('reads every object correctly when the change happens once: the binding repeats its pair of calls', () => {
    control.set(['C_GetAttributeValue empty CKA_LABEL times=1']);
    control.reset();
    const child = listThroughFaultToken();
    expect({ signal: child.signal, status: child.status }).toEqual({ signal: null, status: 0 });
    expect(control.injected().C_GetAttributeValue).toBe(1);
    expect(listedIds(child)).toEqual(ids);
  });

  it('skips the objects that keep changing, without crashing, and still lists what it could read', () => {
    // Every length call that asks for CKA_LABEL sees it empty: every certificate, key and metadata object.
    control.set(['C_GetAttributeValue empty CKA_LABEL']);
    control.reset();
    const child = listThroughFaultToken();
    control.clear();
    expect({ signal: child.signal, status: child.status }).toEqual({ signal: null, status: 0 });
    expect(listedIds(child)).toEqual([]);
    expect(child.stderr).toBe('');
    // Each object: 3 reads by the token layer, each a pair of calls repeated 4 times by the binding.
    expect(control.injected().C_GetAttributeValue).toBeGreaterThanOrEqual(3 * 4);
  });

  it('lists every object again once the token stops changing', () => {
    control.clear();
    const child = listThroughFaultToken();
    expect({ signal: child.signal, status: child.status }).toEqual({ signal: null, status: 0 });
    expect(listedIds(child)).toEqual(ids);
  });
});
