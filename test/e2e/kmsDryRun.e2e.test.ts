/**
 * KMS `DryRun` (M25: AsymmetricSign, AsymmetricVerify, AsymmetricEncrypt, AsymmetricDecrypt, GetPublicKey) through
 * callApi (V3) with the 2.x generated client's parameters, on keys generated in SoftHSM2: a call that would succeed
 * answers 400 DryRunOperation (nothing signed, decrypted or returned), a call that would fail answers its own error
 * (decision 0023). CreateKey has no DryRun in the cloud: a dry-run CreateKey is refused and creates nothing.
 */
import { constants, createHash, publicEncrypt, randomBytes } from 'node:crypto';
import { startTestDaemon } from '../helpers/daemon';
import { teaCaller, type RpcCaller } from '../helpers/clients';
import { expectCloudError } from '../helpers/sdkErrors';

let d: Awaited<ReturnType<typeof startTestDaemon>>;
let v3: RpcCaller;
let restricted: RpcCaller;
let sign: { KeyId: string; KeyVersionId: string };
let enc: { KeyId: string; KeyVersionId: string };
let publicKeyPem: string;

const DRY_RUN_PASSED = { statusCode: 400, code: 'DryRunOperation' } as const;
const digest = createHash('sha256').update('dry run').digest();

async function createKey(KeySpec: string, KeyUsage: string): Promise<{ KeyId: string; KeyVersionId: string }> {
  const meta = (await v3('CreateKey', { KeySpec, KeyUsage })).body.KeyMetadata as Record<string, string>;
  return { KeyId: String(meta.KeyId), KeyVersionId: String(meta.PrimaryKeyVersion) };
}

beforeAll(async () => {
  d = await startTestDaemon({ extraKeys: [{ name: 'certsOnly', certificates: ['no-such-certificate'] }] });
  v3 = teaCaller(d);
  const other = d.extraKeys.certsOnly;
  if (!other) throw new Error('no restricted access key');
  restricted = teaCaller({ endpoint: d.endpoint, accessKeyId: other.id, accessKeySecret: other.secret });
  sign = await createKey('EC_P256', 'SIGN/VERIFY');
  enc = await createKey('RSA_2048', 'ENCRYPT/DECRYPT');
  publicKeyPem = String((await v3('GetPublicKey', enc)).body.PublicKey);
});

afterAll(async () => {
  await d.stop();
});

describe('DryRun=true on a call that would succeed', () => {
  it('AsymmetricSign answers 400 DryRunOperation with the cloud message and no signature', async () => {
    const e = await expectCloudError(
      () =>
        v3('AsymmetricSign', {
          ...sign,
          Algorithm: 'ECDSA_SHA_256',
          Digest: digest.toString('base64'),
          DryRun: 'true',
        }),
      DRY_RUN_PASSED,
    );
    expect(e.message).toContain('Request validation has been passed with DryRun flag set.');
    expect(JSON.stringify(e.data ?? {})).not.toContain('"Value"');
  });

  it('AsymmetricVerify, GetPublicKey, AsymmetricEncrypt and AsymmetricDecrypt answer 400 DryRunOperation', async () => {
    const signature = (
      await v3('AsymmetricSign', { ...sign, Algorithm: 'ECDSA_SHA_256', Digest: digest.toString('base64') })
    ).body.Value as string;
    await expectCloudError(
      () =>
        v3('AsymmetricVerify', {
          ...sign,
          Algorithm: 'ECDSA_SHA_256',
          Digest: digest.toString('base64'),
          Value: signature,
          DryRun: 'true',
        }),
      DRY_RUN_PASSED,
    );
    await expectCloudError(() => v3('GetPublicKey', { ...sign, DryRun: 'TRUE' }), DRY_RUN_PASSED);
    const plaintext = randomBytes(32).toString('base64');
    await expectCloudError(
      () => v3('AsymmetricEncrypt', { ...enc, Algorithm: 'RSAES_OAEP_SHA_1', Plaintext: plaintext, DryRun: 'true' }),
      DRY_RUN_PASSED,
    );
    const ciphertext = publicEncrypt(
      { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      randomBytes(16),
    );
    await expectCloudError(
      () =>
        v3('AsymmetricDecrypt', {
          ...enc,
          Algorithm: 'RSAES_OAEP_SHA_1',
          CiphertextBlob: ciphertext.toString('base64'),
          DryRun: 'true',
        }),
      DRY_RUN_PASSED,
    );
  });

  it('DryRun=false performs the call', async () => {
    const r = await v3('AsymmetricSign', {
      ...sign,
      Algorithm: 'ECDSA_SHA_256',
      Digest: digest.toString('base64'),
      DryRun: 'false',
    });
    expect(typeof r.body.Value).toBe('string');
  });
});

describe('DryRun=true on a call that would fail answers the call’s own error', () => {
  it('a wrong digest length is 400 InvalidParameter, an unknown key 404 Forbidden.KeyNotFound', async () => {
    await expectCloudError(
      () =>
        v3('AsymmetricSign', {
          ...sign,
          Algorithm: 'ECDSA_SHA_256',
          Digest: digest.subarray(1).toString('base64'),
          DryRun: 'true',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    await expectCloudError(
      () => v3('GetPublicKey', { KeyId: 'no-such-key', KeyVersionId: sign.KeyVersionId, DryRun: 'true' }),
      { statusCode: 404, code: 'Forbidden.KeyNotFound' },
    );
  });

  it('an algorithm the token cannot decrypt is 400 Rejected.UnsupportedOperation; a too long plaintext 400 InvalidParameter', async () => {
    // SoftHSM2 2.6.1 cannot decrypt OAEP with SHA-256 (its capability probe says so).
    await expectCloudError(
      () =>
        v3('AsymmetricEncrypt', {
          ...enc,
          Algorithm: 'RSAES_OAEP_SHA_256',
          Plaintext: randomBytes(16).toString('base64'),
          DryRun: 'true',
        }),
      { statusCode: 400, code: 'Rejected.UnsupportedOperation' },
    );
    await expectCloudError(
      () =>
        v3('AsymmetricEncrypt', {
          ...enc,
          Algorithm: 'RSAES_OAEP_SHA_1',
          Plaintext: randomBytes(215).toString('base64'),
          DryRun: 'true',
        }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
  });

  it('a disabled key is 409 Rejected.Disabled, and DryRunOperation again once enabled', async () => {
    await v3('DisableKey', { KeyId: sign.KeyId });
    const call = (): Promise<unknown> =>
      v3('AsymmetricSign', { ...sign, Algorithm: 'ECDSA_SHA_256', Digest: digest.toString('base64'), DryRun: 'true' });
    await expectCloudError(call, { statusCode: 409, code: 'Rejected.Disabled' });
    await v3('EnableKey', { KeyId: sign.KeyId });
    await expectCloudError(call, DRY_RUN_PASSED);
  });

  it('an access key that may not use the key is 403 Forbidden.RAM', async () => {
    await expectCloudError(() => restricted('GetPublicKey', { ...sign, DryRun: 'true' }), {
      statusCode: 403,
      code: 'Forbidden.RAM',
    });
  });

  it('a DryRun that is neither true nor false is 400 InvalidParameter', async () => {
    await expectCloudError(() => v3('GetPublicKey', { ...sign, DryRun: 'yes' }), {
      statusCode: 400,
      code: 'InvalidParameter',
    });
  });
});

describe('CreateKey, which has no DryRun in the cloud', () => {
  it('refuses DryRun=true with 400 Rejected.UnsupportedOperation and creates no key', async () => {
    const count = async (): Promise<unknown> => (await v3('ListKeys', { PageSize: '100' })).body.TotalCount;
    const before = await count();
    await expectCloudError(() => v3('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY', DryRun: 'true' }), {
      statusCode: 400,
      code: 'Rejected.UnsupportedOperation',
    });
    expect(await count()).toBe(before);
  });
});
