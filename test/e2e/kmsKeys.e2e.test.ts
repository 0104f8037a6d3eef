/**
 * KMS asymmetric keys through the official clients: `@alicloud/kms20160120` 1.2.0 with its own methods (V1
 * signatures through rpc-client) and `@alicloud/openapi-client` `callApi` (V3) with the 2.x generated client's
 * parameters. Alibaba's sample flow CreateKey → ListKeyVersions → GetPublicKey → AsymmetricSign runs for every key
 * spec SoftHSM2 can generate; every signature is verified by node:crypto and by `openssl` against the public key
 * GetPublicKey returned (never against anything the daemon computed otherwise). Key objects are read back from the
 * token itself. Error paths assert HTTP status and Code.
 */
import {
  AsymmetricSignRequest,
  CreateKeyRequest,
  GetPublicKeyRequest,
  ListKeyVersionsRequest,
} from '@alicloud/kms20160120';
import type KmsClient from '@alicloud/kms20160120';
import { createHash, createPublicKey, randomBytes, verify as nodeVerifyRaw, constants } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import { purgeExpiredKeys } from '../../src/identities/keys/lifecycle';
import { privateKeyAttributes } from '../../src/token/objects';
import type { TokenManager } from '../../src/token/tokenManager';
import { startTestDaemon } from '../helpers/daemon';
import { kmsClient, teaCaller, type RpcCaller } from '../helpers/clients';
import { openssl, Scratch } from '../helpers/verify';
import { sdkError } from '../helpers/sdkErrors';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;

let d: Daemon;
let v1: KmsClient;
let v3: RpcCaller;
let tm: TokenManager;
let scratch: Scratch;

beforeAll(async () => {
  d = await startTestDaemon({ extraKeys: [{ name: 'certsOnly', certificates: ['no-such-certificate'] }] });
  v1 = kmsClient(d);
  v3 = teaCaller(d);
  tm = d.daemon.tokens.tokens[0] as TokenManager;
  scratch = new Scratch();
});

afterAll(async () => {
  scratch.cleanup();
  await d.stop();
});

type Kind = 'pkcs1' | 'pss' | 'ecdsa';

/** Verifies a signature over `message` with node:crypto (which hashes the message itself). */
function nodeVerifies(publicKeyPem: string, kind: Kind, message: Buffer, signature: Buffer): boolean {
  const key = createPublicKey(publicKeyPem);
  if (kind === 'pss') {
    return nodeVerifyRaw(
      'sha256',
      message,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      signature,
    );
  }
  return nodeVerifyRaw('sha256', message, { key, dsaEncoding: 'der' }, signature);
}

/** Verifies a signature over `message` with `openssl dgst -sha256 -verify` and the PEM public key; exit status 0. */
function opensslVerifies(publicKeyPem: string, kind: Kind, message: Buffer, signature: Buffer): boolean {
  const pss = kind === 'pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
  const r = openssl([
    'dgst',
    '-sha256',
    '-verify',
    scratch.file(publicKeyPem, 'pem'),
    ...pss,
    '-signature',
    scratch.file(signature),
    scratch.file(message),
  ]);
  return r.status === 0 && /Verified OK/.test(r.output);
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** Alibaba's GenerateRSACSR flow, with the 1.2.0 client's own methods: the key, its version and its public key. */
async function createWithV1(keySpec: string): Promise<{ keyId: string; versionId: string; publicKeyPem: string }> {
  const created = await v1.createKey(new CreateKeyRequest({ keySpec, keyUsage: 'SIGN/VERIFY', description: 'e2e' }));
  const keyId = created.keyMetadata.keyId;
  const versions = await v1.listKeyVersions(new ListKeyVersionsRequest({ keyId }));
  const versionId = versions.keyVersions.keyVersion[0]?.keyVersionId ?? '';
  const pub = await v1.getPublicKey(new GetPublicKeyRequest({ keyId, keyVersionId: versionId }));
  return { keyId, versionId, publicKeyPem: pub.publicKey };
}

async function v3Sign(keyId: string, versionId: string, algorithm: string, digest: Buffer): Promise<Buffer> {
  const r = await v3('AsymmetricSign', {
    KeyId: keyId,
    KeyVersionId: versionId,
    Algorithm: algorithm,
    Digest: digest.toString('base64'),
  });
  return Buffer.from(String(r.body.Value), 'base64');
}

async function v3CreateKey(keySpec: string): Promise<{ keyId: string; versionId: string; publicKeyPem: string }> {
  const created = await v3('CreateKey', { KeySpec: keySpec, KeyUsage: 'SIGN/VERIFY' });
  const meta = created.body.KeyMetadata as Record<string, string>;
  const keyId = meta.KeyId as string;
  const versionId = meta.PrimaryKeyVersion as string;
  const pub = await v3('GetPublicKey', { KeyId: keyId, KeyVersionId: versionId });
  return { keyId, versionId, publicKeyPem: String(pub.body.PublicKey) };
}

const FLOWS: Array<{ spec: string; algorithm: string; kind: Kind; curve?: string; bits?: number }> = [
  { spec: 'RSA_2048', algorithm: 'RSA_PKCS1_SHA_256', kind: 'pkcs1', bits: 2048 },
  { spec: 'RSA_2048', algorithm: 'RSA_PSS_SHA_256', kind: 'pss', bits: 2048 },
  { spec: 'RSA_3072', algorithm: 'RSA_PSS_SHA_256', kind: 'pss', bits: 3072 },
  { spec: 'EC_P256', algorithm: 'ECDSA_SHA_256', kind: 'ecdsa', curve: 'prime256v1' },
  { spec: 'EC_P256K', algorithm: 'ECDSA_SHA_256', kind: 'ecdsa', curve: 'secp256k1' },
];

describe('the sample flow with @alicloud/kms20160120 1.2.0 (V1)', () => {
  it.each(FLOWS)(
    '$spec: CreateKey → ListKeyVersions → GetPublicKey → AsymmetricSign($algorithm) verifies with node:crypto and openssl',
    async ({ spec, algorithm, kind, curve, bits }) => {
      const { keyId, versionId, publicKeyPem } = await createWithV1(spec);
      const pub = createPublicKey(publicKeyPem);
      if (curve) expect(pub.asymmetricKeyDetails?.namedCurve).toBe(curve);
      if (bits) expect(pub.asymmetricKeyDetails?.modulusLength).toBe(bits);
      const message = randomBytes(100);
      const signed = await v1.asymmetricSign(
        new AsymmetricSignRequest({
          keyId,
          keyVersionId: versionId,
          algorithm,
          digest: sha256(message).toString('base64'),
        }),
      );
      expect(signed.keyId).toBe(keyId);
      expect(signed.keyVersionId).toBe(versionId);
      const signature = Buffer.from(signed.value, 'base64');
      expect(nodeVerifies(publicKeyPem, kind, message, signature)).toBe(true);
      expect(opensslVerifies(publicKeyPem, kind, message, signature)).toBe(true);
      // The check can fail: another message does not verify.
      expect(nodeVerifies(publicKeyPem, kind, randomBytes(100), signature)).toBe(false);
      // The version's key material was generated in the token: sensitive, never extractable.
      const attrs = await privateKeyAttributes(tm, Buffer.from(versionId.replace(/-/g, ''), 'hex'));
      expect(attrs).toEqual({ sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true });
    },
  );
});

describe('the sample flow with openapi-client callApi (V3)', () => {
  it.each(FLOWS.filter((f) => f.spec !== 'RSA_3072'))(
    '$spec: AsymmetricSign($algorithm) verifies with node:crypto and openssl; AsymmetricVerify agrees',
    async ({ spec, algorithm, kind }) => {
      const { keyId, versionId, publicKeyPem } = await v3CreateKey(spec);
      const message = randomBytes(64);
      const digest = sha256(message);
      const signature = await v3Sign(keyId, versionId, algorithm, digest);
      expect(nodeVerifies(publicKeyPem, kind, message, signature)).toBe(true);
      expect(opensslVerifies(publicKeyPem, kind, message, signature)).toBe(true);
      const query = { KeyId: keyId, KeyVersionId: versionId, Algorithm: algorithm, Digest: digest.toString('base64') };
      const good = await v3('AsymmetricVerify', { ...query, Value: signature.toString('base64') });
      expect(good.body.Value).toBe(true);
      const other = await v3('AsymmetricVerify', {
        ...query,
        Digest: sha256(randomBytes(8)).toString('base64'),
        Value: signature.toString('base64'),
      });
      expect(other.body.Value).toBe(false);
    },
  );

  it('keeps KMS key pairs out of the certificate identities (the certificate surface is unchanged)', async () => {
    await v3CreateKey('EC_P256');
    const ids = tm.entries().map((e) => e.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.filter((id) => id.includes('/'))).toEqual([]);
    const nf = await sdkError(() =>
      v3('DescribeCertificate', { CertificateId: `${ids[0] ?? 'x'}/${randomBytes(4).toString('hex')}` }),
    );
    expect([nf.statusCode, nf.code]).toEqual([404, 'Certificate.NotFound']);
  });
});

describe('key state, versions, aliases and deletion', () => {
  let key: { keyId: string; versionId: string; publicKeyPem: string };
  const digest = sha256(Buffer.from('state'));
  beforeAll(async () => {
    key = await v3CreateKey('EC_P256');
  });

  it('DescribeKey reports the key as the cloud does (Enabled, HSM, its ARN and primary version)', async () => {
    const r = await v3('DescribeKey', { KeyId: key.keyId });
    expect(r.body.KeyMetadata).toMatchObject({
      KeyId: key.keyId,
      KeySpec: 'EC_P256',
      KeyUsage: 'SIGN/VERIFY',
      KeyState: 'Enabled',
      ProtectionLevel: 'HSM',
      PrimaryKeyVersion: key.versionId,
      Creator: d.accessKeyId,
      Arn: `acs:kms:${d.config.server.regionId}:${d.config.server.accountId}:key/${key.keyId}`,
    });
  });

  it('a disabled key refuses to sign with 409 Rejected.Disabled, and signs again once enabled', async () => {
    await v3('DisableKey', { KeyId: key.keyId });
    const e = await sdkError(() => v3Sign(key.keyId, key.versionId, 'ECDSA_SHA_256', digest));
    expect([e.statusCode, e.code]).toEqual([409, 'Rejected.Disabled']);
    expect((await v3('DescribeKey', { KeyId: key.keyId })).body.KeyMetadata).toMatchObject({ KeyState: 'Disabled' });
    await v3('EnableKey', { KeyId: key.keyId });
    const sig = await v3Sign(key.keyId, key.versionId, 'ECDSA_SHA_256', digest);
    expect(nodeVerifies(key.publicKeyPem, 'ecdsa', Buffer.from('state'), sig)).toBe(true);
  });

  it('CreateKeyVersion makes a new primary version; the old version still signs and verifies when named', async () => {
    const r = await v3('CreateKeyVersion', { KeyId: key.keyId });
    const newVersion = String((r.body.KeyVersion as Record<string, unknown>).KeyVersionId);
    expect(newVersion).not.toBe(key.versionId);
    const described = await v3('DescribeKey', { KeyId: key.keyId });
    expect(described.body.KeyMetadata).toMatchObject({ PrimaryKeyVersion: newVersion });
    const versions = await v3('ListKeyVersions', { KeyId: key.keyId });
    const listed = (versions.body.KeyVersions as { KeyVersion: Array<{ KeyVersionId: string }> }).KeyVersion;
    expect(listed.map((v) => v.KeyVersionId)).toEqual([key.versionId, newVersion]);
    const one = await v3('DescribeKeyVersion', { KeyId: key.keyId, KeyVersionId: newVersion });
    expect(one.body.KeyVersion).toMatchObject({ KeyId: key.keyId, KeyVersionId: newVersion });
    const newPem = String((await v3('GetPublicKey', { KeyId: key.keyId, KeyVersionId: newVersion })).body.PublicKey);
    expect(newPem).not.toBe(key.publicKeyPem);
    const oldSig = await v3Sign(key.keyId, key.versionId, 'ECDSA_SHA_256', digest);
    expect(opensslVerifies(key.publicKeyPem, 'ecdsa', Buffer.from('state'), oldSig)).toBe(true);
    expect(nodeVerifies(newPem, 'ecdsa', Buffer.from('state'), oldSig)).toBe(false);
    const newSig = await v3Sign(key.keyId, newVersion, 'ECDSA_SHA_256', digest);
    expect(opensslVerifies(newPem, 'ecdsa', Buffer.from('state'), newSig)).toBe(true);
    const attrs = await privateKeyAttributes(tm, Buffer.from(newVersion.replace(/-/g, ''), 'hex'));
    expect(attrs).toMatchObject({ sensitive: true, extractable: false });
    const unknown = await sdkError(() => v3Sign(key.keyId, 'no-such-version', 'ECDSA_SHA_256', digest));
    expect([unknown.statusCode, unknown.code]).toEqual([404, 'Forbidden.KeyNotFound']);
  });

  it('resolves every KeyId given as an alias or an ARN, and moves and deletes aliases', async () => {
    const alias = `alias/e2e-${randomBytes(3).toString('hex')}`;
    await v3('CreateAlias', { KeyId: key.keyId, AliasName: alias });
    const byAlias = await v3('GetPublicKey', { KeyId: alias, KeyVersionId: key.versionId });
    expect(byAlias.body.KeyId).toBe(key.keyId);
    const arn = `acs:kms:${d.config.server.regionId}:${d.config.server.accountId}:key/${key.keyId}`;
    const sig = await v3Sign(arn, key.versionId, 'ECDSA_SHA_256', digest);
    expect(nodeVerifies(key.publicKeyPem, 'ecdsa', Buffer.from('state'), sig)).toBe(true);
    const aliasArn = `acs:kms:${d.config.server.regionId}:${d.config.server.accountId}:${alias}`;
    expect((await v3('DescribeKey', { KeyId: aliasArn })).body.KeyMetadata).toMatchObject({ KeyId: key.keyId });
    const byKey = await v3('ListAliasesByKeyId', { KeyId: key.keyId });
    expect(byKey.body.Aliases).toEqual({ Alias: [{ KeyId: key.keyId, AliasName: alias, AliasArn: aliasArn }] });
    const all = await v3('ListAliases', { PageSize: '100' });
    expect((all.body.Aliases as { Alias: unknown[] }).Alias).toContainEqual({
      KeyId: key.keyId,
      AliasName: alias,
      AliasArn: aliasArn,
    });
    const taken = await sdkError(() => v3('CreateAlias', { KeyId: key.keyId, AliasName: alias }));
    expect([taken.statusCode, taken.code]).toEqual([409, 'Rejected.AlreadyExists']);
    const reserved = await sdkError(() => v3('CreateAlias', { KeyId: key.keyId, AliasName: 'alias/acs/x' }));
    expect([reserved.statusCode, reserved.code]).toEqual([400, 'InvalidParameter']);
    const other = await v3CreateKey('EC_P256');
    await v3('UpdateAlias', { KeyId: other.keyId, AliasName: alias });
    expect((await v3('DescribeKey', { KeyId: alias })).body.KeyMetadata).toMatchObject({ KeyId: other.keyId });
    await v3('DeleteAlias', { AliasName: alias });
    const gone = await sdkError(() => v3('DescribeKey', { KeyId: alias }));
    expect([gone.statusCode, gone.code]).toEqual([404, 'Forbidden.AliasNotFound']);
    const foreignArn = await sdkError(() => v3('DescribeKey', { KeyId: `acs:kms:eu-west-1:1:key/${key.keyId}` }));
    expect([foreignArn.statusCode, foreignArn.code]).toEqual([404, 'Forbidden.KeyNotFound']);
  });

  it('a key scheduled for deletion refuses use with 409 Rejected.PendingDeletion until the deletion is cancelled', async () => {
    const tooShort = await sdkError(() => v3('ScheduleKeyDeletion', { KeyId: key.keyId, PendingWindowInDays: '6' }));
    expect([tooShort.statusCode, tooShort.code]).toEqual([400, 'InvalidParameter']);
    await v3('ScheduleKeyDeletion', { KeyId: key.keyId, PendingWindowInDays: '7' });
    const meta = (await v3('DescribeKey', { KeyId: key.keyId })).body.KeyMetadata as Record<string, string>;
    expect(meta.KeyState).toBe('PendingDeletion');
    const days = (Date.parse(meta.DeleteDate ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    const refused = await sdkError(() => v3Sign(key.keyId, key.versionId, 'ECDSA_SHA_256', digest));
    expect([refused.statusCode, refused.code]).toEqual([409, 'Rejected.PendingDeletion']);
    const enable = await sdkError(() => v3('EnableKey', { KeyId: key.keyId }));
    expect([enable.statusCode, enable.code]).toEqual([409, 'Rejected.PendingDeletion']);
    await v3('CancelKeyDeletion', { KeyId: key.keyId });
    expect((await v3('DescribeKey', { KeyId: key.keyId })).body.KeyMetadata).toMatchObject({
      KeyState: 'Enabled',
      DeleteDate: '',
    });
    await v3Sign(key.keyId, key.versionId, 'ECDSA_SHA_256', digest);
  });

  it('when the deletion window has ended, the key is gone for callers and the purge destroys its objects', async () => {
    const doomed = await v3CreateKey('EC_P256');
    await v3('CreateKeyVersion', { KeyId: doomed.keyId });
    await v3('ScheduleKeyDeletion', { KeyId: doomed.keyId, PendingWindowInDays: '7' });
    const count = (label: string): Promise<number> =>
      tm.admin(
        async (session, lib) => (await lib.findObjects(session, [{ type: pkcs11.CKA_LABEL, value: label }])).length,
      );
    const prefix = `${doomed.keyId}/${doomed.versionId}`;
    expect(await count(prefix)).toBe(2);
    expect(await purgeExpiredKeys(tm, new Date())).toEqual([]);
    const purged = await purgeExpiredKeys(tm, new Date(Date.now() + 8 * 86_400_000));
    expect(purged).toEqual([doomed.keyId]);
    expect(await count(prefix)).toBe(0);
    expect(await count(doomed.keyId)).toBe(0);
    const gone = await sdkError(() => v3('DescribeKey', { KeyId: doomed.keyId }));
    expect([gone.statusCode, gone.code]).toEqual([404, 'Forbidden.KeyNotFound']);
  });
});

describe('CreateKey and ListKeys refusals and paging', () => {
  it('refuses a symmetric or unknown spec with 400 Rejected.UnsupportedOperation', async () => {
    for (const spec of [undefined, 'Aliyun_AES_256', 'RSA_1024']) {
      const e = await sdkError(() => v3('CreateKey', { KeySpec: spec }));
      expect([spec, e.statusCode, e.code]).toEqual([spec, 400, 'Rejected.UnsupportedOperation']);
    }
    const ecEncrypt = await sdkError(() => v3('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'ENCRYPT/DECRYPT' }));
    expect([ecEncrypt.statusCode, ecEncrypt.code]).toEqual([400, 'Rejected.UnsupportedOperation']);
  });

  it('answers an unknown KeyId with 404 Forbidden.KeyNotFound and a mismatched algorithm with InvalidParameter', async () => {
    const nf = await sdkError(() => v3('DescribeKey', { KeyId: 'f0000000-0000-4000-8000-000000000000' }));
    expect([nf.statusCode, nf.code]).toEqual([404, 'Forbidden.KeyNotFound']);
    const k = await v3CreateKey('EC_P256');
    const alg = await sdkError(() => v3Sign(k.keyId, k.versionId, 'RSA_PSS_SHA_256', sha256(Buffer.from('x'))));
    expect([alg.statusCode, alg.code]).toEqual([400, 'InvalidParameter']);
    const short = await sdkError(() => v3Sign(k.keyId, k.versionId, 'ECDSA_SHA_256', Buffer.alloc(20)));
    expect([short.statusCode, short.code]).toEqual([400, 'InvalidParameter']);
  });

  it('pages ListKeys and applies Filters', async () => {
    const all = await v3('ListKeys', { PageSize: '100' });
    const total = Number(all.body.TotalCount);
    expect(total).toBeGreaterThanOrEqual(5);
    const p1 = await v3('ListKeys', { PageSize: '2', PageNumber: '1' });
    const p2 = await v3('ListKeys', { PageSize: '2', PageNumber: '2' });
    const ids = (r: typeof p1): string[] => (r.body.Keys as { Key: Array<{ KeyId: string }> }).Key.map((k) => k.KeyId);
    expect(ids(p1)).toHaveLength(2);
    expect(ids(p2)).toHaveLength(2);
    expect(ids(p1).filter((id) => ids(p2).includes(id))).toEqual([]);
    const rsa = await v3('ListKeys', {
      PageSize: '100',
      Filters: JSON.stringify([{ Key: 'KeySpec', Values: ['RSA_2048', 'RSA_3072'] }]),
    });
    const rsaIds = ids(rsa);
    expect(rsaIds.length).toBeGreaterThan(0);
    expect(rsaIds.length).toBeLessThan(total);
    for (const id of rsaIds) {
      const m = (await v3('DescribeKey', { KeyId: id })).body.KeyMetadata as Record<string, string>;
      expect(['RSA_2048', 'RSA_3072']).toContain(m.KeySpec);
    }
    const bad = await sdkError(() => v3('ListKeys', { PageSize: '101' }));
    expect([bad.statusCode, bad.code]).toEqual([400, 'InvalidParameter']);
  });

  it('hides keys from an access key whose resources name no key, and refuses it their use with Forbidden.RAM', async () => {
    const restricted = teaCaller({ endpoint: d.endpoint, ...asKey(d.extraKeys.certsOnly) });
    const listed = await restricted('ListKeys', { PageSize: '100' });
    expect(listed.body.TotalCount).toBe(0);
    const k = (await v3('ListKeys', { PageSize: '1' })).body.Keys as { Key: Array<{ KeyId: string }> };
    const e = await sdkError(() => restricted('DescribeKey', { KeyId: k.Key[0]?.KeyId }));
    expect([e.statusCode, e.code]).toEqual([403, 'Forbidden.RAM']);
  });
});

function asKey(k: { id: string; secret: string } | undefined): { accessKeyId: string; accessKeySecret: string } {
  if (!k) throw new Error('no such extra key');
  return { accessKeyId: k.id, accessKeySecret: k.secret };
}
