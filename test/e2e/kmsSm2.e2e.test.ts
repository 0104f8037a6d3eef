/**
 * KMS keys of spec EC_SM2 on the SM2 test token (softhsm/sm2-test-token, a PKCS#11 TEST DOUBLE for a vendor SM2 HSM,
 * warehouse 2 beside SoftHSM2's warehouse 1, which has no SM2): CreateKey → ListKeyVersions → GetPublicKey →
 * AsymmetricSign(SM2DSA over e) → AsymmetricVerify with `@alicloud/kms20160120` 1.2.0 (V1) and callApi (V3), and
 * SM2PKE AsymmetricEncrypt/Decrypt. Every signature is verified against the public key GetPublicKey returned by
 * sm-crypto and by `openssl pkeyutl` (ID 1234567812345678); `openssl` encrypts a ciphertext the key decrypts.
 */
import {
  AsymmetricSignRequest,
  CreateKeyRequest,
  GetPublicKeyRequest,
  ListKeyVersionsRequest,
} from '@alicloud/kms20160120';
import type KmsClient from '@alicloud/kms20160120';
import { createPublicKey, randomBytes } from 'node:crypto';
import { privateKeyAttributes } from '../../src/token/objects';
import type { TokenManager } from '../../src/token/tokenManager';
import { startTestDaemon } from '../helpers/daemon';
import { kmsClient, teaCaller, type RpcCaller } from '../helpers/clients';
import { expectCloudError } from '../helpers/sdkErrors';
import {
  clientE,
  createSm2TestToken,
  opensslSm2Encrypt,
  opensslSm2Verify,
  opensslSm2VerifyE,
  smCryptoVerify,
  smCryptoVerifyE,
  type Sm2TestToken,
} from '../helpers/sm2Token';
import { isDerEcdsaSignature, openssl, Scratch } from '../helpers/verify';

let d: Awaited<ReturnType<typeof startTestDaemon>>;
let sm2Token: Sm2TestToken;
let wh2: TokenManager;
let v1: KmsClient;
let v3: RpcCaller;
const scratch = new Scratch();

beforeAll(async () => {
  sm2Token = createSm2TestToken({ warehouseId: 2 });
  d = await startTestDaemon({
    configure: (raw) => {
      (raw.tokens as unknown[]).push(sm2Token.rawConfig);
    },
  });
  v1 = kmsClient(d);
  v3 = teaCaller(d);
  const t = d.daemon.tokens.byWarehouse(2);
  if (!t) throw new Error('warehouse 2 missing');
  wh2 = t;
});

afterAll(async () => {
  await d?.stop();
  sm2Token?.cleanup();
  scratch.cleanup();
});

const ckaIdOf = (versionId: string): Buffer => Buffer.from(versionId.replace(/-/g, ''), 'hex');

/** Both independent verifiers, over e and over the message (they compute Z_A with the default ID themselves). */
function expectSm2Valid(publicKeyPem: string, message: Buffer, signature: Buffer): void {
  expect(isDerEcdsaSignature(signature)).toBe(true);
  expect(smCryptoVerifyE(publicKeyPem, clientE(publicKeyPem, message), signature)).toBe(true);
  expect(smCryptoVerify(publicKeyPem, message, signature)).toBe(true);
  const byMessage = opensslSm2Verify(scratch, publicKeyPem, message, signature);
  expect([byMessage.status, byMessage.output]).toEqual([0, expect.stringContaining('Signature Verified Successfully')]);
  expect(opensslSm2VerifyE(scratch, publicKeyPem, clientE(publicKeyPem, message), signature).status).toBe(0);
  // The check can fail: the signature does not verify another message.
  expect(smCryptoVerify(publicKeyPem, randomBytes(16), signature)).toBe(false);
}

describe('EC_SM2 SIGN/VERIFY keys', () => {
  it('1.2.0 client (V1): CreateKey lands on the SM2 token; AsymmetricSign over e verifies with sm-crypto and openssl', async () => {
    const created = await v1.createKey(new CreateKeyRequest({ keySpec: 'EC_SM2', keyUsage: 'SIGN/VERIFY' }));
    expect(created.keyMetadata.keySpec).toBe('EC_SM2');
    const keyId = created.keyMetadata.keyId;
    const versions = await v1.listKeyVersions(new ListKeyVersionsRequest({ keyId }));
    const versionId = versions.keyVersions.keyVersion[0]?.keyVersionId ?? '';
    const pem = (await v1.getPublicKey(new GetPublicKeyRequest({ keyId, keyVersionId: versionId }))).publicKey;
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    // An EC key on sm2p256v1 (GB/T 32918.5: OID 1.2.156.10197.1.301) in its SubjectPublicKeyInfo.
    const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    expect(spki.includes(Buffer.from('06082a811ccf5501822d', 'hex'))).toBe(true);
    const message = randomBytes(200);
    const signed = await v1.asymmetricSign(
      new AsymmetricSignRequest({
        keyId,
        keyVersionId: versionId,
        algorithm: 'SM2DSA',
        digest: clientE(pem, message).toString('base64'),
      }),
    );
    expectSm2Valid(pem, message, Buffer.from(signed.value, 'base64'));
    // Generated in the SM2 token (warehouse 2), sensitive and never extractable; SoftHSM2 has no such key.
    const attrs = await privateKeyAttributes(wh2, ckaIdOf(versionId));
    expect(attrs).toEqual({ sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true });
    const wh1 = d.daemon.tokens.byWarehouse(1);
    expect(wh1 && (await privateKeyAttributes(wh1, ckaIdOf(versionId)))).toBeUndefined();
  });

  it('callApi (V3): AsymmetricSign and AsymmetricVerify agree; a changed e or a second version behave as the cloud', async () => {
    const meta = (await v3('CreateKey', { KeySpec: 'EC_SM2', KeyUsage: 'SIGN/VERIFY' })).body.KeyMetadata as Record<
      string,
      string
    >;
    const key = { KeyId: String(meta.KeyId), KeyVersionId: String(meta.PrimaryKeyVersion) };
    const pem = String((await v3('GetPublicKey', key)).body.PublicKey);
    const message = Buffer.from('SM2 on a KMS key');
    const e = clientE(pem, message);
    const sig = String(
      (await v3('AsymmetricSign', { ...key, Algorithm: 'SM2DSA', Digest: e.toString('base64') })).body.Value,
    );
    expectSm2Valid(pem, message, Buffer.from(sig, 'base64'));
    const verify = async (digest: Buffer, value: string): Promise<unknown> =>
      (await v3('AsymmetricVerify', { ...key, Algorithm: 'SM2DSA', Digest: digest.toString('base64'), Value: value }))
        .body.Value;
    expect(await verify(e, sig)).toBe(true);
    expect(await verify(clientE(pem, Buffer.from('another message')), sig)).toBe(false);
    // Another algorithm for an SM2 key, and a digest that is not 32 bytes, are the caller's mistakes.
    await expectCloudError(
      () => v3('AsymmetricSign', { ...key, Algorithm: 'ECDSA_SHA_256', Digest: e.toString('base64') }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    await expectCloudError(
      () => v3('AsymmetricSign', { ...key, Algorithm: 'SM2DSA', Digest: e.subarray(1).toString('base64') }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    // A new version is generated in the same token; the old one still signs.
    const made = await v3('CreateKeyVersion', { KeyId: key.KeyId });
    const v2 = String((made.body.KeyVersion as Record<string, unknown>).KeyVersionId);
    const pem2 = String((await v3('GetPublicKey', { KeyId: key.KeyId, KeyVersionId: v2 })).body.PublicKey);
    expect(pem2).not.toBe(pem);
    const sig2 = String(
      (
        await v3('AsymmetricSign', {
          KeyId: key.KeyId,
          KeyVersionId: v2,
          Algorithm: 'SM2DSA',
          Digest: clientE(pem2, message).toString('base64'),
        })
      ).body.Value,
    );
    expectSm2Valid(pem2, message, Buffer.from(sig2, 'base64'));
    const old = String(
      (await v3('AsymmetricSign', { ...key, Algorithm: 'SM2DSA', Digest: e.toString('base64') })).body.Value,
    );
    expectSm2Valid(pem, message, Buffer.from(old, 'base64'));
  });
});

describe('EC_SM2 ENCRYPT/DECRYPT keys (SM2PKE, GM/T 0009 ciphertexts)', () => {
  it('decrypts what openssl encrypted to GetPublicKey’s key, and round-trips its own ciphertexts up to 6047 bytes', async () => {
    const meta = (await v3('CreateKey', { KeySpec: 'EC_SM2', KeyUsage: 'ENCRYPT/DECRYPT' })).body.KeyMetadata as Record<
      string,
      string
    >;
    const key = { KeyId: String(meta.KeyId), KeyVersionId: String(meta.PrimaryKeyVersion) };
    const pem = String((await v3('GetPublicKey', key)).body.PublicKey);
    const decrypt = async (ct: Buffer): Promise<Buffer> =>
      Buffer.from(
        String(
          (await v3('AsymmetricDecrypt', { ...key, Algorithm: 'SM2PKE', CiphertextBlob: ct.toString('base64') })).body
            .Plaintext,
        ),
        'base64',
      );
    const fromOpenssl = randomBytes(100);
    expect((await decrypt(opensslSm2Encrypt(scratch, pem, fromOpenssl))).equals(fromOpenssl)).toBe(true);
    for (const size of [1, 6047]) {
      const plaintext = randomBytes(size);
      const ct = Buffer.from(
        String(
          (await v3('AsymmetricEncrypt', { ...key, Algorithm: 'SM2PKE', Plaintext: plaintext.toString('base64') })).body
            .CiphertextBlob,
        ),
        'base64',
      );
      // GM/T 0009 ASN.1 as OpenSSL reads it: SEQUENCE { INTEGER, INTEGER, OCTET STRING, OCTET STRING }.
      const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', scratch.file(ct)]);
      expect(parsed.status).toBe(0);
      expect(parsed.output.match(/prim: (INTEGER|OCTET STRING)/g)).toEqual([
        'prim: INTEGER',
        'prim: INTEGER',
        'prim: OCTET STRING',
        'prim: OCTET STRING',
      ]);
      expect((await decrypt(ct)).equals(plaintext)).toBe(true);
    }
    await expectCloudError(
      () => v3('AsymmetricEncrypt', { ...key, Algorithm: 'SM2PKE', Plaintext: randomBytes(6048).toString('base64') }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    await expectCloudError(
      () =>
        v3('AsymmetricDecrypt', { ...key, Algorithm: 'SM2PKE', CiphertextBlob: randomBytes(120).toString('base64') }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    const attrs = await privateKeyAttributes(wh2, ckaIdOf(key.KeyVersionId));
    expect(attrs).toMatchObject({ sensitive: true, extractable: false });
  });
});
