/**
 * `p11bridge keys list|describe|disable|enable|adopt` through the built CLI on a throwaway SoftHSM2 token. Adoption
 * is checked on the token itself afterwards: the adopted version's public key is the key pair's own (the key
 * material was not touched), it still reads back sensitive and non-extractable, and it signs as a KMS key version.
 */
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { keySpecRow, kmsSignatureAlgorithm } from '../../src/crypto/algorithms';
import { keysOf } from '../../src/identities/keys/keyView';
import { createKey } from '../../src/identities/keys/lifecycle';
import { generateKeyPair, privateKeyAttributes } from '../../src/token/objects';
import {
  createTestToken,
  generateCarelessKeyPair,
  openToken,
  provisionTestToken,
  type TestToken,
} from '../helpers/token';

const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');
const scope = { regionId: 'cn-hangzhou', accountId: '1234567890123456' };

describe('p11bridge keys (real SoftHSM2 token, built CLI)', () => {
  let t: TestToken;
  let config: string;
  let keyId: string;
  let certificateId: string;
  const legacyEc = { label: 'legacy-signer', ckaId: randomBytes(8), spki: Buffer.alloc(0) as Buffer };
  const legacyRsa = { label: 'legacy-rsa', ckaId: randomBytes(8), spki: Buffer.alloc(0) as Buffer };

  const cli = (...args: string[]) => {
    const r = spawnSync('node', [CLI, 'keys', ...args, '--config', config], {
      encoding: 'utf8',
      env: { ...process.env },
      input: '',
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const json = <T>(...args: string[]): T => {
    const r = cli(...args, '--json');
    if (r.code !== 0) throw new Error(`p11bridge keys ${args.join(' ')} failed: ${r.err}`);
    return JSON.parse(r.out) as T;
  };

  beforeAll(async () => {
    t = createTestToken();
    const provisioned = await provisionTestToken(t);
    certificateId = provisioned.leaves[0]?.id ?? '';
    const token = await openToken(t);
    try {
      const key = await createKey([token], {
        keySpec: 'RSA_2048',
        keyUsage: 'SIGN/VERIFY',
        description: 'cli test',
        tags: {},
        scope,
        creator: 'test',
      });
      keyId = key.keyId;
      const ec = keySpecRow('EC_P256');
      const rsa = keySpecRow('RSA_2048');
      if (!ec || !rsa) throw new Error('spec rows missing');
      legacyEc.spki = (await generateKeyPair(token, ec, legacyEc.label, legacyEc.ckaId, 'sign')).spki;
      legacyRsa.spki = (await generateKeyPair(token, rsa, legacyRsa.label, legacyRsa.ckaId, 'sign')).spki;
      // An extractable, non-sensitive key, as a careless import would leave it.
      await generateCarelessKeyPair(token, 'careless');
    } finally {
      await token.close();
    }
    config = join(t.dir, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        tokens: [{ warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile } }],
        auth: { accessKeys: [{ id: 'LTAI5tCLITEST', secret: { env: 'UNUSED_IN_CLI' } }] },
      }),
    );
  });

  afterAll(() => t.cleanup());

  type Row = { keyId: string; keySpec: string; keyUsage: string; state: string };

  it('lists the KMS keys of the token with spec, usage and state', () => {
    const { keys } = json<{ keys: Row[] }>('list');
    expect(keys.map((k) => [k.keyId, k.keySpec, k.keyUsage, k.state])).toEqual([
      [keyId, 'RSA_2048', 'SIGN/VERIFY', 'Enabled'],
    ]);
  });

  it('disables and enables a key; describe reports the state the token holds', () => {
    expect(json<{ state: string }>('disable', '--key-id', keyId).state).toBe('Disabled');
    expect(json<{ KeyState: string }>('describe', '--key-id', keyId).KeyState).toBe('Disabled');
    expect(json<{ state: string }>('enable', '--key-id', keyId).state).toBe('Enabled');
    const d = json<{ KeyState: string; Versions: Array<{ KeyMaterial: string }> }>('describe', '--key-id', keyId);
    expect(d.KeyState).toBe('Enabled');
    expect(d.Versions.map((v) => v.KeyMaterial)).toEqual(['present']);
  });

  it('answers an unknown key id with exit 1 and a message naming it', () => {
    const r = cli('describe', '--key-id', 'no-such-key');
    expect(r.code).toBe(1);
    expect(r.err).toContain('no KMS key no-such-key');
  });

  it('adopts a key pair by label: same public key, still sensitive and non-extractable, signs as a KMS key version', async () => {
    const d = json<{
      KeyId: string;
      KeySpec: string;
      KeyUsage: string;
      Versions: Array<{ KeyVersionId: string; AdoptedFrom: { label: string; ckaId: string } }>;
    }>('adopt', '--label', legacyEc.label);
    expect([d.KeySpec, d.KeyUsage]).toEqual(['EC_P256', 'SIGN/VERIFY']);
    expect(d.Versions[0]?.AdoptedFrom).toEqual({ label: legacyEc.label, ckaId: legacyEc.ckaId.toString('hex') });
    const token = await openToken(t);
    try {
      const key = keysOf(token).keys.find((k) => k.keyId === d.KeyId);
      const kp = key?.versions[0]?.keyPair;
      if (!key || !kp) throw new Error('adopted key or its key pair not found on the token');
      expect(kp.spki).toEqual(legacyEc.spki);
      expect(kp.ckaId).toEqual(legacyEc.ckaId);
      expect(await privateKeyAttributes(token, legacyEc.ckaId)).toMatchObject({ sensitive: true, extractable: false });
      // No longer a (certificate-less) identity under its old label: it is served as the KMS key only.
      expect(token.lookup(legacyEc.label)).toBeUndefined();
      const alg = kmsSignatureAlgorithm('ECDSA_SHA_256');
      if (!alg) throw new Error('ECDSA_SHA_256 row missing');
      const message = Buffer.from('adopted');
      const digest = createHash('sha256').update(message).digest();
      const sig = await token.sign(key.versions[0]?.label ?? '', alg, { kind: 'digest', digest }, 'keyPair');
      const pub = createPublicKey({ key: legacyEc.spki, format: 'der', type: 'spki' });
      expect(verify('sha256', message, { key: pub, dsaEncoding: 'der' }, sig)).toBe(true);
    } finally {
      await token.close();
    }
  });

  it('adopts a key pair by CKA_ID', () => {
    const d = json<{ KeySpec: string; Versions: Array<{ AdoptedFrom: { label: string } }> }>(
      'adopt',
      '--cka-id',
      legacyRsa.ckaId.toString('hex'),
      '--description',
      'legacy RSA',
    );
    expect(d.KeySpec).toBe('RSA_2048');
    expect(d.Versions[0]?.AdoptedFrom.label).toBe(legacyRsa.label);
    expect(json<{ keys: Row[] }>('list').keys).toHaveLength(3);
  });

  it('refuses to adopt an extractable, non-sensitive key, a certificate identity, a KMS version or a missing key', () => {
    const careless = cli('adopt', '--label', 'careless');
    expect(careless.code).toBe(1);
    expect(careless.err).toContain('CKA_SENSITIVE=false, CKA_EXTRACTABLE=true');
    const cert = cli('adopt', '--label', certificateId);
    expect(cert.code).toBe(1);
    expect(cert.err).toContain('is a certificate identity');
    const missing = cli('adopt', '--label', 'nothing-here');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no private key with label "nothing-here"');
    const again = cli('adopt', '--cka-id', legacyEc.ckaId.toString('hex'));
    expect(again.code).toBe(1);
    expect(again.err).toContain('already a KMS key version');
    expect(json<{ keys: Row[] }>('list').keys).toHaveLength(3);
  });
});
