/**
 * AsymmetricEncrypt / AsymmetricDecrypt on ENCRYPT/DECRYPT keys generated in SoftHSM2, through `@alicloud/kms20160120`
 * 1.2.0 (V1) and callApi (V3). Independent checks: a ciphertext made by node:crypto (OAEP SHA-1) with the public key
 * from GetPublicKey decrypts in the token, and the daemon's ciphertexts decrypt back. RSAES_OAEP_SHA_256 is refused
 * with the capability error: SoftHSM2 2.6.1 cannot decrypt it (its probe says so), so the daemon does not encrypt it.
 */
import {
  AsymmetricDecryptRequest,
  AsymmetricEncryptRequest,
  CreateKeyRequest,
  GetPublicKeyRequest,
  ListKeyVersionsRequest,
} from '@alicloud/kms20160120';
import type KmsClient from '@alicloud/kms20160120';
import { constants, createHash, publicEncrypt, randomBytes } from 'node:crypto';
import { startTestDaemon } from '../helpers/daemon';
import { kmsClient, teaCaller, type RpcCaller } from '../helpers/clients';
import { sdkError } from '../helpers/sdkErrors';

let d: Awaited<ReturnType<typeof startTestDaemon>>;
let v1: KmsClient;
let v3: RpcCaller;

beforeAll(async () => {
  d = await startTestDaemon();
  v1 = kmsClient(d);
  v3 = teaCaller(d);
});

afterAll(async () => {
  await d.stop();
});

interface Key {
  keyId: string;
  versionId: string;
  publicKeyPem: string;
}

async function createKey(keySpec: string, keyUsage: string): Promise<Key> {
  const created = await v1.createKey(new CreateKeyRequest({ keySpec, keyUsage }));
  const keyId = created.keyMetadata.keyId;
  const versions = await v1.listKeyVersions(new ListKeyVersionsRequest({ keyId }));
  const versionId = versions.keyVersions.keyVersion[0]?.keyVersionId ?? '';
  const pub = await v1.getPublicKey(new GetPublicKeyRequest({ keyId, keyVersionId: versionId }));
  return { keyId, versionId, publicKeyPem: pub.publicKey };
}

const oaepSha1 = (pem: string, plaintext: Buffer): Buffer =>
  publicEncrypt({ key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plaintext);

describe('AsymmetricEncrypt / AsymmetricDecrypt', () => {
  test.each([
    ['RSA_2048', 214],
    ['RSA_3072', 342],
  ])(
    'a %s ENCRYPT/DECRYPT key round-trips RSAES_OAEP_SHA_1 (up to %i bytes) through V1 and V3, and decrypts what node:crypto encrypted',
    async (spec, max) => {
      const k = await createKey(spec, 'ENCRYPT/DECRYPT');
      const plaintext = randomBytes(max);
      const enc = await v1.asymmetricEncrypt(
        new AsymmetricEncryptRequest({
          keyId: k.keyId,
          keyVersionId: k.versionId,
          algorithm: 'RSAES_OAEP_SHA_1',
          plaintext: plaintext.toString('base64'),
        }),
      );
      expect(enc.keyVersionId).toBe(k.versionId);
      const dec = await v3('AsymmetricDecrypt', {
        KeyId: k.keyId,
        KeyVersionId: k.versionId,
        Algorithm: 'RSAES_OAEP_SHA_1',
        CiphertextBlob: enc.ciphertextBlob,
      });
      expect(Buffer.from(String(dec.body.Plaintext), 'base64')).toEqual(plaintext);
      const independent = oaepSha1(k.publicKeyPem, Buffer.from('sealed by node:crypto'));
      const opened = await v1.asymmetricDecrypt(
        new AsymmetricDecryptRequest({
          keyId: k.keyId,
          keyVersionId: k.versionId,
          algorithm: 'RSAES_OAEP_SHA_1',
          ciphertextBlob: independent.toString('base64'),
        }),
      );
      expect(Buffer.from(opened.plaintext, 'base64').toString()).toBe('sealed by node:crypto');
      const tooLong = await sdkError(() =>
        v3('AsymmetricEncrypt', {
          KeyId: k.keyId,
          KeyVersionId: k.versionId,
          Algorithm: 'RSAES_OAEP_SHA_1',
          Plaintext: randomBytes(max + 1).toString('base64'),
        }),
      );
      expect([tooLong.statusCode, tooLong.code]).toEqual([400, 'InvalidParameter']);
    },
  );

  it('refuses RSAES_OAEP_SHA_256, which SoftHSM2 2.6.1 cannot decrypt, with 400 Rejected.UnsupportedOperation', async () => {
    const k = await createKey('RSA_2048', 'ENCRYPT/DECRYPT');
    const enc = await sdkError(() =>
      v3('AsymmetricEncrypt', {
        KeyId: k.keyId,
        KeyVersionId: k.versionId,
        Algorithm: 'RSAES_OAEP_SHA_256',
        Plaintext: Buffer.from('x').toString('base64'),
      }),
    );
    expect([enc.statusCode, enc.code]).toEqual([400, 'Rejected.UnsupportedOperation']);
    const dec = await sdkError(() =>
      v3('AsymmetricDecrypt', {
        KeyId: k.keyId,
        KeyVersionId: k.versionId,
        Algorithm: 'RSAES_OAEP_SHA_256',
        CiphertextBlob: randomBytes(256).toString('base64'),
      }),
    );
    expect([dec.statusCode, dec.code]).toEqual([400, 'Rejected.UnsupportedOperation']);
  });

  it('refuses a usage or algorithm that does not fit, a tampered ciphertext, and a disabled key', async () => {
    const enc = await createKey('RSA_2048', 'ENCRYPT/DECRYPT');
    const sign = await createKey('RSA_2048', 'SIGN/VERIFY');
    const q = (k: Key, extra: Record<string, string>) => ({ KeyId: k.keyId, KeyVersionId: k.versionId, ...extra });
    const x = Buffer.from('x').toString('base64');
    const onSigningKey = await sdkError(() =>
      v3('AsymmetricEncrypt', q(sign, { Algorithm: 'RSAES_OAEP_SHA_1', Plaintext: x })),
    );
    expect([onSigningKey.statusCode, onSigningKey.code]).toEqual([400, 'Rejected.UnsupportedOperation']);
    const signWithEncKey = await sdkError(() =>
      v3(
        'AsymmetricSign',
        q(enc, {
          Algorithm: 'RSA_PKCS1_SHA_256',
          Digest: createHash('sha256').update('x').digest('base64'),
        }),
      ),
    );
    expect([signWithEncKey.statusCode, signWithEncKey.code]).toEqual([400, 'Rejected.UnsupportedOperation']);
    const wrongAlg = await sdkError(() => v3('AsymmetricEncrypt', q(enc, { Algorithm: 'SM2PKE', Plaintext: x })));
    expect([wrongAlg.statusCode, wrongAlg.code]).toEqual([400, 'InvalidParameter']);
    const good = oaepSha1(enc.publicKeyPem, Buffer.from('secret'));
    good.writeUInt8((good.at(-1) ?? 0) ^ 1, good.length - 1);
    const tampered = await sdkError(() =>
      v3('AsymmetricDecrypt', q(enc, { Algorithm: 'RSAES_OAEP_SHA_1', CiphertextBlob: good.toString('base64') })),
    );
    expect([tampered.statusCode, tampered.code]).toEqual([400, 'InvalidParameter']);
    await v3('DisableKey', { KeyId: enc.keyId });
    const disabled = await sdkError(() =>
      v3('AsymmetricEncrypt', q(enc, { Algorithm: 'RSAES_OAEP_SHA_1', Plaintext: x })),
    );
    expect([disabled.statusCode, disabled.code]).toEqual([409, 'Rejected.Disabled']);
  });
});
