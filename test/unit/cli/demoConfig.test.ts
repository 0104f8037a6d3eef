import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addTokenToDemoConfig, demoConfigDocument, writeDemoConfig } from '../../../src/cli/demoConfig';
import { demoSm2Token, demoSm2TokenEntry } from '../../../src/cli/demoSm2';
import { loadConfigFile } from '../../../src/config/load';

const dir = mkdtempSync(join(tmpdir(), 'p11bridge-democonfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODULE = '/opt/p11bridge/build/sm2-test-token/libp11bridge-sm2-test.so';
const softHsmToken = { warehouseId: 1, name: 'demo', tokenLabel: 'p11bridge-demo', pin: { file: '/h/user-pin' } };
const base = { accessKeyId: 'LTAI5tDEMODEMODEMODEMO12', accessKeySecretFile: '/h/access-key-secret', softHsmToken };

function written(name: string, doc: ReturnType<typeof demoConfigDocument>): string {
  const file = join(dir, name);
  writeDemoConfig(file, doc);
  return file;
}

describe('the generated demo config', () => {
  test('names the demo warehouses for the demo access key (1, and 2 with --sm2), with a comment on each permission', () => {
    const plain = loadConfigFile(written('plain.yaml', demoConfigDocument(base)));
    expect(plain.auth.accessKeys[0]?.warehouses).toEqual([1]);
    const sm2File = written(
      'sm2.yaml',
      demoConfigDocument({ ...base, sm2Token: { warehouseId: 2, ...demoSm2TokenEntry(MODULE, '/h/sm2-user-pin') } }),
    );
    const sm2 = loadConfigFile(sm2File);
    expect(sm2.auth.accessKeys[0]).toMatchObject({ actions: ['*'], certificates: ['*'], warehouses: [1, 2] });
    expect(demoSm2Token(sm2.tokens)).toMatchObject({ warehouseId: 2, module: MODULE, sm2: { vendor: 'TASS' } });
    const text = readFileSync(sm2File, 'utf8');
    for (const field of ['actions', 'certificates', 'warehouses', 'maxCertificates'])
      expect([field, text.includes(`# ${field}: `)]).toEqual([field, true]);
    // The vendor numbers are written as the sample writes them.
    expect(text).toContain('keyType: 0x80000004');
  });

  test('--sm2 on an existing home adds the token with the next warehouse id, and that id to the key, keeping comments', () => {
    const file = written('existing.yaml', demoConfigDocument(base));
    const id = addTokenToDemoConfig(file, base.accessKeyId, demoSm2TokenEntry(MODULE, '/h/sm2-user-pin'));
    expect(id).toBe(2);
    const config = loadConfigFile(file);
    expect(config.tokens.map((t) => t.warehouseId)).toEqual([1, 2]);
    expect(demoSm2Token(config.tokens)?.tokenLabel).toBe('p11bridge-demo-sm2');
    expect(config.auth.accessKeys[0]?.warehouses).toEqual([1, 2]);
    expect(readFileSync(file, 'utf8')).toContain('# warehouses: ');
  });

  test('a demo key allowed every warehouse ("*", configs made before warehouses existed) is left as it is', () => {
    const file = written('star.yaml', demoConfigDocument(base));
    writeFileSync(file, readFileSync(file, 'utf8').replace('warehouses: [ 1 ]', 'warehouses: [ "*" ]'));
    addTokenToDemoConfig(file, base.accessKeyId, demoSm2TokenEntry(MODULE, '/h/sm2-user-pin'));
    expect(loadConfigFile(file).auth.accessKeys[0]?.warehouses).toEqual(['*']);
  });
});
