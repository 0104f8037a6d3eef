/**
 * The token matrix (issue 19): on the PKCS#11 implementation its set-up script prepared (scripts/tokens/<impl>.sh,
 * run by scripts/token-matrix.sh), `provision` makes the demo key set as far as the token can, `serve` serves it,
 * every signature algorithm the token supports signs through the official SDKs (CAS `Sign` with
 * @alicloud/cas20200407, KMS `CertificatePrivateKeySign` through @alicloud/openapi-client) and verifies with openssl;
 * everything else is answered with a documented 4xx error, never a 500; and every key made reads back sensitive and
 * never extractable. Nothing here knows which implementation it runs on: only what `slots` reports.
 */
import { spawnSync } from 'node:child_process';
import { constants, createHash, publicEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type CasClient from '@alicloud/cas20200407';
import { loadConfigFile } from '../../src/config/load';
import { ERROR_CATALOGUE } from '../../src/errors/catalogue';
import { silentLogger } from '../../src/observability/logger';
import { privateKeyAttributes } from '../../src/token/objects';
import { TokenManager } from '../../src/token/tokenManager';
import { cas3, casSign, teaCaller, type RpcCaller } from '../helpers/clients';
import { sdkError } from '../helpers/sdkErrors';
import { CLI, ServeProcess } from '../helpers/serveProcess';
import { opensslVerifyCms, opensslVerifyData, opensslVerifyDigest, Scratch } from '../helpers/verify';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through scripts/token-matrix.sh`);
  return v;
};
const IMPL = env('MATRIX_IMPL');
const DIR = env('MATRIX_DIR');
const ACCESS_KEY_ID = 'LTAI5tMATRIX00000001';
const ACCESS_KEY_SECRET = randomBytes(18).toString('base64url');

interface Provisioned {
  metadataStore: string;
  ca: { id: string; keySpec: string; tokenAllowsAlso?: string[] };
  leaves: Array<{ id: string; keySpec: string; tokenAllowsAlso?: string[] }>;
  skipped: Array<{ keySpec: string; reason: string }>;
}
interface SlotsReport {
  signatureAlgorithms: Array<{ kms: string | null; cas: string | null; supported: boolean }>;
  decryptionAlgorithms: string[];
  keySpecs: string[];
  metadataStore: string;
  weakerTokenRestriction: Array<{ id: string; tokenAllowsAlso: string[] }>;
}

function cli(args: string[]): string {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: process.env, timeout: 170000 });
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** KMS and CAS names of the signature algorithms, with how openssl verifies them and the key type they need. */
const SIGNATURES = [
  { kms: 'RSA_PKCS1_SHA_256', cas: 'SHA256withRSA', kind: 'pkcs1', keyType: 'RSA' },
  { kms: 'RSA_PSS_SHA_256', cas: 'SHA256withRSA/PSS', kind: 'pss', keyType: 'RSA' },
  { kms: 'ECDSA_SHA_256', cas: 'SHA256withECDSA', kind: 'ecdsa', keyType: 'EC' },
  { kms: 'SM2DSA', cas: 'SM3withSM2', kind: 'sm2', keyType: 'SM2' },
] as const;

const keyTypeOf = (spec: string): string => (spec.startsWith('RSA') ? 'RSA' : spec === 'EC_SM2' ? 'SM2' : 'EC');

/** A refusal must be a cloud error the catalogue documents, with a 4xx status: never a 500, never a CKR. */
async function expectDocumentedRefusal(fn: () => Promise<unknown>): Promise<string> {
  const e = await sdkError(fn);
  expect(e.statusCode).toBeGreaterThanOrEqual(400);
  expect(e.statusCode).toBeLessThan(500);
  const code = (e.code ?? '').replace(/^Rejected\./, '').replace(/Error$/, '');
  expect(Object.keys(ERROR_CATALOGUE).some((c) => c === code || c === e.code)).toBe(true);
  expect(e.message).not.toMatch(/CKR_/);
  return e.code ?? '';
}

describe(`the token matrix on ${IMPL}`, () => {
  const scratch = new Scratch();
  const config = join(DIR, 'matrix-config.yaml');
  let provisioned: Provisioned;
  let slots: SlotsReport;
  let serve: ServeProcess;
  let kms: RpcCaller;
  let cas: CasClient;
  const certificates = new Map<string, { pem: string; chainPem: string; keySpec: string }>();
  const created: string[] = [];

  beforeAll(async () => {
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 1 },
        tokens: [
          {
            warehouseId: 1,
            name: IMPL,
            module: env('MODULE'),
            ...(process.env.MODULE_PARAMETERS ? { moduleParameters: process.env.MODULE_PARAMETERS } : {}),
            // A token that refuses data objects keeps p11bridge's records in a file it vouches for (decision 0031).
            ...(process.env.METADATA_FILE ? { metadataStore: 'file', metadataFile: process.env.METADATA_FILE } : {}),
            tokenLabel: env('TOKEN_LABEL'),
            pin: { file: env('PIN_FILE') },
            sessions: { size: 2 },
            timeouts: { keyGenerationMs: 120000 },
          },
        ],
        auth: { accessKeys: [{ id: ACCESS_KEY_ID, secret: { env: 'MATRIX_SECRET' } }] },
      }),
      { mode: 0o600 },
    );
    provisioned = JSON.parse(cli(['provision', '--config', config, '--json'])) as Provisioned;
    slots = (JSON.parse(cli(['slots', '--config', config, '--json'])) as SlotsReport[])[0] as SlotsReport;
    serve = new ServeProcess(config, { MATRIX_SECRET: ACCESS_KEY_SECRET });
    const port = (await serve.waitFor((l) => l.msg === 'listening' || l.msg === 'cluster listening', 60000)).port ?? 0;
    const target = { endpoint: `127.0.0.1:${port}`, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET };
    kms = teaCaller(target);
    cas = cas3(target);
    for (const l of [provisioned.ca, ...provisioned.leaves]) {
      const got = await kms('GetCertificate', { CertificateId: l.id });
      certificates.set(l.id, {
        pem: String(got.body.Certificate),
        chainPem: String(got.body.CertificateChain ?? ''),
        keySpec: l.keySpec,
      });
    }
  });

  afterAll(async () => {
    if (serve && serve.proc.exitCode === null) {
      serve.proc.kill('SIGTERM');
      await serve.exited();
    }
    scratch.cleanup();
  });

  test('provision and slots say where the records are: a file only where the config asks for one', () => {
    const where = process.env.METADATA_FILE ? `file ${process.env.METADATA_FILE}` : 'data objects on the token';
    expect(provisioned.metadataStore).toContain(where);
    expect(slots.metadataStore).toContain(where);
  });

  test('provision makes a CA and a signing key for every demo spec the token can generate, and says which not', () => {
    const made = provisioned.leaves.map((l) => l.keySpec);
    for (const spec of ['RSA_2048', 'EC_P256']) {
      if (slots.keySpecs.includes(spec)) expect(made).toContain(spec);
      else expect(provisioned.skipped.map((s) => s.keySpec)).toContain(spec);
    }
    expect(slots.keySpecs).toContain(provisioned.ca.keySpec);
    // What provision reported as a weaker token-side restriction, `slots` reports too, identity by identity.
    const weaker = [provisioned.ca, ...provisioned.leaves].filter((l) => l.tokenAllowsAlso);
    expect(slots.weakerTokenRestriction.map((w) => w.id).sort()).toEqual(weaker.map((w) => w.id).sort());
  });

  for (const alg of SIGNATURES) {
    test(`${alg.kms} / ${alg.cas}: signs and verifies with openssl where supported, else a documented refusal`, async () => {
      const supported = slots.signatureAlgorithms.some((s) => s.kms === alg.kms && s.supported);
      const data = randomBytes(300);
      for (const leaf of provisioned.leaves) {
        const cert = certificates.get(leaf.id);
        if (!cert) throw new Error(`no certificate for ${leaf.id}`);
        const kmsSign = (messageType: 'RAW' | 'DIGEST', message: Buffer) =>
          kms('CertificatePrivateKeySign', {
            CertificateId: leaf.id,
            Algorithm: alg.kms,
            MessageType: messageType,
            Message: message.toString('base64'),
          });
        const casRaw = () =>
          casSign(cas, {
            certIdentifier: leaf.id,
            signingAlgorithm: alg.cas,
            messageType: 'RAW',
            message: data.toString('utf8'),
          });
        if (supported && keyTypeOf(leaf.keySpec) === alg.keyType && alg.kind !== 'sm2') {
          const raw = Buffer.from(String((await kmsSign('RAW', data)).body.SignatureValue), 'base64');
          const byData = opensslVerifyData(scratch, cert.pem, alg.kind, data, raw);
          expect(byData.output).toContain('Verified OK');
          const digest = createHash('sha256').update(data).digest();
          const dsig = Buffer.from(String((await kmsSign('DIGEST', digest)).body.SignatureValue), 'base64');
          const byDigest = opensslVerifyDigest(scratch, cert.pem, alg.kind, digest, dsig);
          expect(byDigest.output).toContain('Signature Verified Successfully');
          const casSig = Buffer.from((await casRaw()).signature ?? '', 'base64');
          const casText = Buffer.from(data.toString('utf8'), 'utf8');
          expect(opensslVerifyData(scratch, cert.pem, alg.kind, casText, casSig).output).toContain('Verified OK');
        } else {
          await expectDocumentedRefusal(() => kmsSign('RAW', data));
          await expectDocumentedRefusal(casRaw);
        }
      }
    });
  }

  test('SHA256withRSA/P7 (CAS) is a CMS SignedData that openssl cms verifies against the chain, where RSA is served', async () => {
    const rsaLeaves = provisioned.leaves.filter((l) => keyTypeOf(l.keySpec) === 'RSA');
    const supported = slots.signatureAlgorithms.some((s) => s.cas === 'SHA256withRSA/P7' && s.supported);
    for (const leaf of rsaLeaves) {
      const cert = certificates.get(leaf.id);
      if (!cert) throw new Error(`no certificate for ${leaf.id}`);
      const message = 'matrix P7 content';
      const call = () =>
        casSign(cas, { certIdentifier: leaf.id, signingAlgorithm: 'SHA256withRSA/P7', messageType: 'RAW', message });
      if (!supported) {
        await expectDocumentedRefusal(call);
        continue;
      }
      const cms = Buffer.from((await call()).signature ?? '', 'base64');
      const caPem = certificates.get(provisioned.ca.id)?.pem ?? '';
      const v = opensslVerifyCms(scratch, caPem, Buffer.from(message), cms);
      expect(v.output).toContain('Verification successful');
    }
  });

  test('a signing-only key is refused decryption by the API, whatever the token itself would allow', async () => {
    for (const leaf of provisioned.leaves.filter((l) => keyTypeOf(l.keySpec) === 'RSA')) {
      const pem = certificates.get(leaf.id)?.pem ?? '';
      const blob = publicEncrypt(
        { key: new X509Certificate(pem).publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        Buffer.from('secret'),
      );
      const code = await expectDocumentedRefusal(() =>
        kms('CertificatePrivateKeyDecrypt', {
          CertificateId: leaf.id,
          Algorithm: 'RSAES_OAEP_SHA_1',
          CiphertextBlob: blob.toString('base64'),
        }),
      );
      expect(code).toMatch(/InvalidParameter/);
    }
  });

  test('CreateCertificate makes every key spec the token can generate (CSR verifies) and refuses the rest with a 4xx', async () => {
    // The key specs KMS CreateCertificate takes (alibaba-protocol.md); the rest are CreateKey's.
    for (const spec of ['RSA_2048', 'EC_P256', 'EC_SM2']) {
      const call = () =>
        kms('CreateCertificate', {
          Subject: `CN=${spec.toLowerCase()}.matrix.example,OU=m,O=p11bridge,C=CN`,
          KeySpec: spec,
        });
      if (!slots.keySpecs.includes(spec)) {
        await expectDocumentedRefusal(call);
        continue;
      }
      const res = await call();
      created.push(String(res.body.CertificateId));
      const csr = scratch.file(String(res.body.Csr), 'pem');
      const r = spawnSync('openssl', ['req', '-in', csr, '-verify', '-noout'], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toMatch(/verify OK/);
    }
  });

  test('CreateKey makes a key of every spec `slots` offers (secp256k1 only where the token has the curve), signs and verifies with openssl, and refuses the rest with a 4xx', async () => {
    // `slots` offers what the capability probe proved: a listed CKM_EC_KEY_PAIR_GEN says nothing of the curves
    // (tpm2-pkcs11 and NSS have no secp256k1), so an offered spec that fails at generation would be a 500 here.
    for (const { spec, algorithm } of [
      { spec: 'EC_P256K', algorithm: 'ECDSA_SHA_256' },
      { spec: 'EC_P256', algorithm: 'ECDSA_SHA_256' },
      { spec: 'RSA_2048', algorithm: 'RSA_PKCS1_SHA_256' },
    ]) {
      const call = () => kms('CreateKey', { KeySpec: spec, KeyUsage: 'SIGN/VERIFY' });
      if (!slots.keySpecs.includes(spec)) {
        await expectDocumentedRefusal(call);
        continue;
      }
      const meta = (await call()).body.KeyMetadata as Record<string, string>;
      const key = { KeyId: meta.KeyId, KeyVersionId: meta.PrimaryKeyVersion };
      const pem = String((await kms('GetPublicKey', key)).body.PublicKey);
      const digest = createHash('sha256').update(randomBytes(64)).digest();
      const signed = await kms('AsymmetricSign', { ...key, Algorithm: algorithm, Digest: digest.toString('base64') });
      const v = spawnSync(
        'openssl',
        ['pkeyutl', '-verify', '-pubin', '-inkey', scratch.file(pem, 'pem'), '-pkeyopt', 'digest:sha256'].concat([
          '-in',
          scratch.file(digest),
          '-sigfile',
          scratch.file(Buffer.from(String(signed.body.Value), 'base64')),
        ]),
        { encoding: 'utf8' },
      );
      expect(`${spec}: ${v.stdout}${v.stderr}`).toContain('Signature Verified Successfully');
    }
  });

  test('every key made on the token reads back sensitive, never extractable, always so', async () => {
    serve.proc.kill('SIGTERM');
    await serve.exited();
    const tokenConfig = loadConfigFile(config).tokens[0];
    if (!tokenConfig) throw new Error('no token in the matrix config');
    const token = new TokenManager(tokenConfig, silentLogger());
    await token.open();
    try {
      const ids = [provisioned.ca.id, ...provisioned.leaves.map((l) => l.id), ...created];
      for (const id of ids) {
        const entry = token.lookup(id);
        if (!entry) throw new Error(`identity ${id} is not on the token`);
        const made = [provisioned.ca, ...provisioned.leaves].find((l) => l.id === id);
        if (made) {
          // Made for signing only: never a decryption key to the API, and what the token allows more is on record.
          expect(entry.canDecrypt).toBe(false);
          expect(entry.beyondGrant).toEqual(made.tokenAllowsAlso ?? []);
        }
        expect(await privateKeyAttributes(token, entry.ckaId)).toEqual({
          sensitive: true,
          extractable: false,
          alwaysSensitive: true,
          neverExtractable: true,
        });
      }
    } finally {
      await token.close();
    }
  });
});
