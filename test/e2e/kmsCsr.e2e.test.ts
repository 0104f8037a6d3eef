/**
 * Alibaba's CSR sample flow for a KMS key (the GenerateRSACSR / GenerateECCSR samples): CreateKey → ListKeyVersions
 * → GetPublicKey, then a PKCS#10 request built around that public key with the repo's CSR builder, whose signature
 * is AsymmetricSign over the SHA-256 digest of the DER CertificationRequestInfo. `openssl req -verify` checks the
 * result independently. RSA keys go through `@alicloud/kms20160120` 1.2.0 (V1), EC keys through callApi (V3).
 */
import {
  AsymmetricSignRequest,
  CreateKeyRequest,
  GetPublicKeyRequest,
  ListKeyVersionsRequest,
} from '@alicloud/kms20160120';
import type KmsClient from '@alicloud/kms20160120';
import { createHash, createPublicKey } from 'node:crypto';
import { buildCsr } from '../../src/crypto/csrBuilder';
import { pemEncode } from '../../src/crypto/pem';
import type { SignatureAlgorithmName } from '../../src/crypto/x509Signature';
import { startTestDaemon } from '../helpers/daemon';
import { kmsClient, teaCaller, type RpcCaller } from '../helpers/clients';
import { openssl, Scratch } from '../helpers/verify';

let d: Awaited<ReturnType<typeof startTestDaemon>>;
let v1: KmsClient;
let v3: RpcCaller;
let scratch: Scratch;

beforeAll(async () => {
  d = await startTestDaemon();
  v1 = kmsClient(d);
  v3 = teaCaller(d);
  scratch = new Scratch();
});

afterAll(async () => {
  scratch.cleanup();
  await d.stop();
});

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** A KMS-side signer as the samples write it: digest the to-be-signed bytes locally, sign the digest in KMS. */
type KmsSigner = (digest: Buffer) => Promise<Buffer>;

async function viaV1(keySpec: string, algorithm: string): Promise<{ publicKeyPem: string; sign: KmsSigner }> {
  const created = await v1.createKey(new CreateKeyRequest({ keySpec, keyUsage: 'SIGN/VERIFY' }));
  const keyId = created.keyMetadata.keyId;
  const versions = await v1.listKeyVersions(new ListKeyVersionsRequest({ keyId }));
  const keyVersionId = versions.keyVersions.keyVersion[0]?.keyVersionId ?? '';
  const pub = await v1.getPublicKey(new GetPublicKeyRequest({ keyId, keyVersionId }));
  return {
    publicKeyPem: pub.publicKey,
    sign: async (digest) => {
      const r = await v1.asymmetricSign(
        new AsymmetricSignRequest({ keyId, keyVersionId, algorithm, digest: digest.toString('base64') }),
      );
      return Buffer.from(r.value, 'base64');
    },
  };
}

async function viaV3(keySpec: string, algorithm: string): Promise<{ publicKeyPem: string; sign: KmsSigner }> {
  const created = await v3('CreateKey', { KeySpec: keySpec, KeyUsage: 'SIGN/VERIFY' });
  const keyId = String((created.body.KeyMetadata as Record<string, unknown>).KeyId);
  const versions = await v3('ListKeyVersions', { KeyId: keyId });
  const list = (versions.body.KeyVersions as { KeyVersion: Array<{ KeyVersionId: string }> }).KeyVersion;
  const keyVersionId = list[0]?.KeyVersionId ?? '';
  const pub = await v3('GetPublicKey', { KeyId: keyId, KeyVersionId: keyVersionId });
  return {
    publicKeyPem: String(pub.body.PublicKey),
    sign: async (digest) => {
      const r = await v3('AsymmetricSign', {
        KeyId: keyId,
        KeyVersionId: keyVersionId,
        Algorithm: algorithm,
        Digest: digest.toString('base64'),
      });
      return Buffer.from(String(r.body.Value), 'base64');
    },
  };
}

const CASES: Array<[string, 'V1' | 'V3', string, SignatureAlgorithmName]> = [
  ['RSA_2048', 'V1', 'RSA_PKCS1_SHA_256', 'sha256WithRSAEncryption'],
  ['RSA_3072', 'V1', 'RSA_PKCS1_SHA_256', 'sha256WithRSAEncryption'],
  ['EC_P256', 'V3', 'ECDSA_SHA_256', 'ecdsaWithSHA256'],
  ['EC_P256K', 'V3', 'ECDSA_SHA_256', 'ecdsaWithSHA256'],
];

describe("Alibaba's CSR sample flow for a KMS key", () => {
  test.each(CASES)(
    'a CSR for a %s key (%s client), signed by AsymmetricSign over SHA-256 of the CertificationRequestInfo, passes openssl req -verify',
    async (keySpec, client, algorithm, csrAlgorithm) => {
      const kms = client === 'V1' ? await viaV1(keySpec, algorithm) : await viaV3(keySpec, algorithm);
      const spki = createPublicKey(kms.publicKeyPem).export({ type: 'spki', format: 'der' });
      const signed: Buffer[] = [];
      const csr = await buildCsr({
        subject: `CN=kms-${keySpec.toLowerCase()}.example,O=p11bridge e2e,C=CN`,
        subjectPublicKeyInfo: spki,
        subjectAltNames: ['kms.example'],
        signatureAlgorithm: csrAlgorithm,
        signer: async (info) => {
          signed.push(info);
          return kms.sign(sha256(info));
        },
      });
      expect(signed).toHaveLength(1);
      const file = scratch.file(pemEncode('CERTIFICATE REQUEST', csr), 'pem');
      const r = openssl(['req', '-in', file, '-noout', '-verify', '-subject']);
      expect(r.status).toBe(0);
      expect(r.output).toMatch(/verify OK|Certificate request self-signature verify OK/);
      expect(r.output).toContain(`kms-${keySpec.toLowerCase()}.example`);
      // The public key in the request is the one GetPublicKey returned, byte for byte.
      const pub = openssl(['req', '-in', file, '-noout', '-pubkey']);
      expect(createPublicKey(pub.output).export({ type: 'spki', format: 'der' })).toEqual(spki);
    },
  );
});
