/**
 * `npm start -- --sm2` end to end (issue 13 item 8): the built CLI serves the demo from a throwaway demo home
 * (P11BRIDGE_HOME) with the SM2 test token (softhsm/sm2-test-token, a PKCS#11 TEST DOUBLE for an SM2 HSM) as a
 * second warehouse. The banner and `demo --json` say it is a test double; its EC_SM2 certificate is issued by an SM2
 * CA made in the token; official SDKs sign with it and sm-crypto and `openssl` verify. The generated config names
 * the demo access key's warehouses (issue 16 item 6).
 */
import CasClient from '@alicloud/cas20200407';
import { AsymmetricSignRequest } from '@alicloud/kms20160120';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { loadConfigFile } from '../../src/config/load';
import type { DemoInfo } from '../../src/cli/demo';
import { cas3, casSign, coreCaller, kmsClient } from '../helpers/clients';
import { isDerEcdsaSignature, Scratch } from '../helpers/verify';
import { clientE, opensslSm2Verify, smCryptoVerify } from '../helpers/sm2Token';

const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');
const home = mkdtempSync(join(tmpdir(), 'p11bridge-demo-sm2-'));
const env = { ...process.env, P11BRIDGE_HOME: home, P11BRIDGE_WORKERS: '1', P11BRIDGE_LOG_LEVEL: 'warn' };
const scratch = new Scratch();

let daemon: ChildProcessByStdio<null, Readable, Readable>;
let banner = '';
let info: DemoInfo;
let sm2: DemoInfo['certificates'][number];

/** `p11bridge demo --json` of the demo home, run as an operator would in another terminal. */
function demoJson(): DemoInfo {
  const r = spawnSync(process.execPath, [CLI, 'demo', '--json'], { env, encoding: 'utf8', input: '' });
  if (r.status !== 0) throw new Error(`p11bridge demo --json failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as DemoInfo;
}

/** Starts `demo serve --sm2` on port 0 and resolves with the banner once it is printed whole. */
function startDemo(): Promise<string> {
  daemon = spawn(process.execPath, [CLI, 'demo', 'serve', '--sm2', '--port', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((done, fail) => {
    daemon.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('npx p11bridge demo --json')) done(out);
    });
    daemon.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    daemon.on('exit', (code) => fail(new Error(`demo serve --sm2 exited with ${code}: ${err}${out}`)));
  });
}

beforeAll(async () => {
  banner = await startDemo();
  info = demoJson();
  const found = info.certificates.find((c) => c.keySpec === 'EC_SM2');
  if (!found) throw new Error(`demo --json lists no EC_SM2 certificate: ${JSON.stringify(info.certificates)}`);
  sm2 = found;
}, 120_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((done) => daemon.once('exit', done));
    daemon.kill('SIGTERM');
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
  scratch.cleanup();
});

describe('npm start -- --sm2', () => {
  test('demo --json lists the EC_SM2 certificate in warehouse 2 with testDouble: true, and the SoftHSM2 ones without it', () => {
    expect({ warehouseId: sm2.warehouseId, testDouble: sm2.testDouble }).toEqual({ warehouseId: 2, testDouble: true });
    const others = info.certificates.filter((c) => c !== sm2);
    expect(others.map((c) => [c.keySpec, c.warehouseId, c.testDouble])).toEqual([
      ['EC_P256', 1, undefined],
      ['RSA_2048', 1, undefined],
    ]);
    // The test double's keys live in the demo home, not in the test run's SM2 token store.
    expect(existsSync(join(home, 'sm2-tokens', 'p11bridge-demo-sm2', 'token.conf'))).toBe(true);
  });

  test('the banner says the SM2 warehouse is a test double, on the certificate line and in its own paragraph', () => {
    expect(banner).toContain(`${sm2.id}  EC_SM2  WarehouseId 2  (SM2 test token: a test double, not an HSM)`);
    expect(banner).toMatch(/WarehouseId 2: the SM2 test token .*a PKCS#11 TEST DOUBLE for an SM2 HSM/);
    expect(banner).toContain('never for real keys');
  });

  test('the EC_SM2 certificate is issued by the SM2 CA of its chain: sm-crypto verifies its signature with the CA key', () => {
    const ca = new X509Certificate(sm2.chainPem);
    const leaf = new X509Certificate(sm2.certificatePem);
    expect({ ca: ca.ca, leaf: leaf.ca, issuer: leaf.issuer }).toEqual({ ca: true, leaf: false, issuer: ca.subject });
    // X.509 SM2-with-SM3 signs the TBSCertificate with the default ID (GM/T 0015). openssl 3.0's `verify` cannot
    // check it (it reads the key as plain EC), so sm-crypto does, over the TBS bytes cut out by an ASN.1 parser.
    const cert = AsnConvert.parse(leaf.raw, Certificate);
    const tbs = Buffer.from(AsnConvert.serialize(cert.tbsCertificate));
    const signature = Buffer.from(cert.signatureValue);
    expect(smCryptoVerify(sm2.chainPem, tbs, signature)).toBe(true);
    expect(smCryptoVerify(sm2.certificatePem, tbs, signature)).toBe(false);
  });

  test('KMS CertificatePrivateKeySign with SM2DSA through openapi-core verifies with sm-crypto and openssl', async () => {
    const message = randomBytes(300);
    const res = await coreCaller(info)('CertificatePrivateKeySign', {
      CertificateId: sm2.id,
      Algorithm: 'SM2DSA',
      MessageType: 'RAW',
      Message: message.toString('base64'),
    });
    expect(res.statusCode).toBe(200);
    const signature = Buffer.from(String(res.body.SignatureValue), 'base64');
    expect(isDerEcdsaSignature(signature)).toBe(true);
    expect(smCryptoVerify(sm2.certificatePem, message, signature)).toBe(true);
    expect(smCryptoVerify(sm2.certificatePem, randomBytes(300), signature)).toBe(false);
    expect(opensslSm2Verify(scratch, sm2.certificatePem, message, signature).status).toBe(0);
  });

  test('CAS Sign with SM3withSM2 through @alicloud/cas20200407 verifies with sm-crypto', async () => {
    const cas: CasClient = cas3(info);
    const text = 'SM2 on a laptop';
    const body = await casSign(cas, {
      certIdentifier: sm2.id,
      signingAlgorithm: 'SM3withSM2',
      messageType: 'RAW',
      message: text,
    });
    expect(smCryptoVerify(sm2.certificatePem, Buffer.from(text), Buffer.from(body.signature ?? '', 'base64'))).toBe(
      true,
    );
  });

  test('the generated config lets the demo access key create in the demo warehouses, 1 and 2, and says so', () => {
    const file = join(home, 'config.yaml');
    const key = loadConfigFile(file).auth.accessKeys[0];
    expect({ id: key?.id, warehouses: key?.warehouses }).toEqual({ id: info.accessKeyId, warehouses: [1, 2] });
    const text = readFileSync(file, 'utf8');
    for (const name of ['actions', 'certificates', 'warehouses', 'maxCertificates'])
      expect([name, text.includes(`# ${name}`) || text.includes(`${name}: N`)]).toEqual([name, true]);
  });

  test('demo --json and the banner offer an EC_SM2 KMS signing key; AsymmetricSign over e verifies with sm-crypto and openssl', async () => {
    const key = info.keys.find((k) => k.keySpec === 'EC_SM2');
    if (!key) throw new Error(`demo --json lists no EC_SM2 key: ${JSON.stringify(info.keys)}`);
    expect(key.keyUsage).toBe('SIGN/VERIFY');
    expect(banner).toContain(`${key.keyId}  ${key.keyVersionId}  EC_SM2`);
    const message = randomBytes(100);
    const signed = await kmsClient(info).asymmetricSign(
      new AsymmetricSignRequest({
        keyId: key.keyId,
        keyVersionId: key.keyVersionId,
        algorithm: 'SM2DSA',
        digest: clientE(key.publicKeyPem, message).toString('base64'),
      }),
    );
    const signature = Buffer.from(signed.value, 'base64');
    expect(smCryptoVerify(key.publicKeyPem, message, signature)).toBe(true);
    expect(smCryptoVerify(key.publicKeyPem, randomBytes(100), signature)).toBe(false);
    expect(opensslSm2Verify(scratch, key.publicKeyPem, message, signature).status).toBe(0);
  });

  test('the SM2 warehouse stays in the demo home: after a stop, demo --json without --sm2 still lists it', async () => {
    const exited = new Promise<number | null>((done) => daemon.once('exit', done));
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    const again = demoJson();
    expect(again.certificates.find((c) => c.id === sm2.id)).toMatchObject({ warehouseId: 2, testDouble: true });
  });
});
