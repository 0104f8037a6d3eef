import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load';
import { createTestToken, provisionTestToken, type TestToken } from '../helpers/token';

const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

describe('operator CLI against a throwaway token (real SoftHSM2 token, built CLI)', () => {
  let t: TestToken;
  let config: string;
  let work: string;

  const cli = (...args: string[]) => {
    const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env }, input: '' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const json = <T>(...args: string[]): T => {
    const r = cli(...args, '--json');
    if (r.code !== 0) throw new Error(`p11bridge ${args.join(' ')} failed: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: work });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    t = createTestToken();
    await provisionTestToken(t);
    work = mkdtempSync(join(tmpdir(), 'p11bridge-cli-'));
    config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        tokens: [{ warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile } }],
        auth: { accessKeys: [{ id: 'LTAI5tCLITEST', secret: { env: 'UNUSED_IN_CLI' } }] },
      }),
    );
  });

  afterAll(() => t.cleanup());

  it('prints --help for every command and exits 0', () => {
    for (const args of [
      ['--help'],
      ['serve', '--help'],
      ['demo', '--help'],
      ['slots', '--help'],
      ['certs', '--help'],
      ['certs', 'create', '--help'],
      ['provision', '--help'],
      ['access-keys', '--help'],
    ]) {
      const r = cli(...args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 0]);
      expect(r.out).toMatch(/p11bridge/);
    }
  });

  it('reports slots, mechanisms and the capability summary as JSON', () => {
    const [slot] = json<
      Array<{
        token: { label: string };
        mechanisms: string[];
        signatureAlgorithms: Array<{ kms: string | null; supported: boolean }>;
        decryptionAlgorithms: string[];
      }>
    >('slots', '--config', config);
    expect(slot?.token.label).toBe(t.label);
    expect(slot?.mechanisms).toContain('CKM_ECDSA');
    expect(slot?.signatureAlgorithms.find((a) => a.kms === 'SM2DSA')?.supported).toBe(false);
    expect(slot?.decryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1']);
  });

  it('creates a key in the token with a CSR, imports the issued certificate, exports it, changes status and deletes it', () => {
    const csrFile = join(work, 'req.csr');
    const created = json<{ id: string; keySpec: string; csrPem: string }>(
      'certs',
      'create',
      '--config',
      config,
      '--subject',
      'CN=cli.example.com,OU=ops,O=Example,C=CN',
      '--key-spec',
      'EC_P256',
      '--san',
      'cli.example.com',
      '--csr-out',
      csrFile,
    );
    expect(created.keySpec).toBe('EC_P256');
    openssl('req', '-verify', '-noout', '-in', csrFile);

    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=CLI Test CA',
      '-days',
      '2',
    );
    openssl(
      'x509',
      '-req',
      '-in',
      'req.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      '1',
    );
    const imported = json<{ status: string }>(
      'certs',
      'import',
      '--config',
      config,
      '--id',
      created.id,
      '--cert',
      join(work, 'leaf.pem'),
      '--chain',
      join(work, 'ca.pem'),
    );
    expect(imported.status).toBe('ACTIVE');

    const listed = json<Array<{ id: string; status: string }>>('certs', 'list', '--config', config);
    expect(listed.find((c) => c.id === created.id)?.status).toBe('ACTIVE');

    const exported = json<{ certificatePem: string; chainPem: string }>(
      'certs',
      'export',
      '--config',
      config,
      '--id',
      created.id,
    );
    expect(new X509Certificate(exported.certificatePem).fingerprint256).toBe(
      new X509Certificate(readFileSync(join(work, 'leaf.pem'))).fingerprint256,
    );
    expect(exported.chainPem).toContain('BEGIN CERTIFICATE');
    expect(JSON.stringify(exported)).not.toMatch(/PRIVATE KEY/);

    expect(
      json<{ status: string }>('certs', 'status', '--config', config, '--id', created.id, '--status', 'INACTIVE')
        .status,
    ).toBe('INACTIVE');
    expect(
      json<Array<{ id: string; status: string }>>('certs', 'list', '--config', config).find((c) => c.id === created.id)
        ?.status,
    ).toBe('INACTIVE');

    // Without a terminal and without --yes, delete refuses.
    const refused = cli('certs', 'delete', '--config', config, '--id', created.id);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/not deleted/);
    expect(
      json<{ destroyedObjects: number }>('certs', 'delete', '--config', config, '--id', created.id, '--yes')
        .destroyedObjects,
    ).toBeGreaterThanOrEqual(4);
    expect(json<Array<{ id: string }>>('certs', 'list', '--config', config).some((c) => c.id === created.id)).toBe(
      false,
    );
    const gone = cli('certs', 'export', '--config', config, '--id', created.id);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/Certificate.NotFound/);
  });

  it("refuses to import a certificate whose public key is not the key pair's", () => {
    const created = json<{ id: string }>(
      'certs',
      'create',
      '--config',
      config,
      '--subject',
      'CN=other,OU=ops,O=Example,C=CN',
      '--key-spec',
      'RSA_2048',
    );
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'x.key',
      '-out',
      'x.pem',
      '-subj',
      '/CN=other',
      '-days',
      '1',
    );
    const r = cli('certs', 'import', '--config', config, '--id', created.id, '--cert', join(work, 'x.pem'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/InvalidParameter/);
  });

  it('creates access keys in the cloud format', () => {
    const k = json<{ accessKeyId: string; accessKeySecret: string }>('access-keys', 'create');
    expect(k.accessKeyId).toMatch(/^LTAI5t[A-Za-z0-9]{18}$/);
    expect(k.accessKeySecret).toMatch(/^[A-Za-z0-9]{30}$/);
  });

  it('prints the new access key as a commented config entry that names what it may do, and loads', () => {
    const r = cli('access-keys', 'create', '--actions', 'kms:CertificatePrivateKeySign', '--warehouses', '1');
    expect(r.code).toBe(0);
    const id = /AccessKeyId:\s+(\S+)/.exec(r.out)?.[1];
    const snippet = r.out.slice(r.out.indexOf('# config.yaml'));
    for (const field of ['actions', 'certificates', 'warehouses', 'maxCertificates'])
      expect(snippet).toContain(`# ${field}: `);
    const file = join(work, 'with-new-key.yaml');
    const { auth } = parse(snippet) as { auth: unknown };
    writeFileSync(
      file,
      stringify({ tokens: [{ warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile } }], auth }),
    );
    expect(loadConfigFile(file).auth.accessKeys[0]).toMatchObject({
      id,
      actions: ['kms:CertificatePrivateKeySign'],
      certificates: ['*'],
      warehouses: [1],
    });
    const bad = cli('access-keys', 'create', '--warehouses', 'none');
    expect({ code: bad.code, err: bad.err.trim() }).toEqual({
      code: 1,
      err: 'p11bridge: --warehouses: expected warehouse ids or "*", got "none"',
    });
  });
});
