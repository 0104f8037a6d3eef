import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../config/load';
import type { Config, TokenConfig } from '../config/schema';
import { pemEncode } from '../crypto/pem';
import { demoKeysOf, ensureDemoKeys, type DemoKeyInfo } from '../identities/keys/demoKeys';
import { silentLogger, type Logger } from '../observability/logger';
import { DEMO_SIGNING_SPECS, provisionDemo } from '../identities/demoProvisioning';
import { storeMetadata } from '../token/objects';
import { TokenManager } from '../token/tokenManager';
import { newAccessKey } from './accessKeys';
import { addTokenToDemoConfig, demoConfigDocument, writeDemoConfig } from './demoConfig';
import { demoSm2Token, demoSm2TokenEntry, ensureDemoSm2Token } from './demoSm2';
import { buildSm2TestModule, isSm2TestModule } from './sm2TestToken';
import { SOFTHSM_MODULE, deleteSoftHsmToken, initSoftHsmToken, softHsmTokenExists, writeSoftHsmConf } from './softhsm';

const DEMO_TOKEN_LABEL = 'p11bridge-demo';

/** Files of the demo home; secrets are 0600 and never printed except by `demo` itself. */
export function demoFiles(home: string) {
  return {
    config: join(home, 'config.yaml'),
    pin: join(home, 'user-pin'),
    soPin: join(home, 'so-pin'),
    accessKeyId: join(home, 'access-key-id'),
    accessKeySecret: join(home, 'access-key-secret'),
    state: join(home, 'demo.json'),
    ids: join(home, 'demo-ids.json'),
    pid: join(home, 'p11bridge.pid'),
    /** The SM2 test token's PIN and token store (`--sm2`). */
    sm2Pin: join(home, 'sm2-user-pin'),
    sm2Tokens: join(home, 'sm2-tokens'),
  };
}

/** The identifiers the demo key set is provisioned with, chosen with the config (which names the RSA one). */
interface DemoIds {
  ca: string;
  leaves: string[];
}

function demoIds(path: string): DemoIds | undefined {
  if (!existsSync(path)) return undefined;
  const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<DemoIds>;
  return typeof v.ca === 'string' && Array.isArray(v.leaves) && v.leaves.length === DEMO_SIGNING_SPECS.length
    ? { ca: v.ca, leaves: v.leaves.map(String) }
    : undefined;
}

function writeSecretOnce(path: string, make: () => string): string {
  if (!existsSync(path)) writeFileSync(path, `${make()}\n`, { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

/**
 * Prepares the demo home (idempotent): SoftHSM2 conf and token store, PINs, an access key, the config file,
 * the token itself, and the demo key set inside it. With `sm2` (or when an earlier `--sm2` put it in the config),
 * also the SM2 test token as a second warehouse (src/cli/demoSm2.ts), its module built on demand. Sets
 * SOFTHSM2_CONF and P11BRIDGE_SM2TOKEN_DIR for this process (the modules read them at C_Initialize).
 */
export async function ensureDemo(
  home: string,
  log: Logger = silentLogger(),
  opts: { sm2?: boolean } = {},
): Promise<Config> {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const files = demoFiles(home);
  const conf = writeSoftHsmConf(home);
  process.env.SOFTHSM2_CONF = conf;
  process.env.P11BRIDGE_SM2TOKEN_DIR = files.sm2Tokens;
  const pin = writeSecretOnce(files.pin, () => randomBytes(12).toString('hex'));
  const soPin = writeSecretOnce(files.soPin, () => randomBytes(12).toString('hex'));
  const ak = newAccessKey();
  writeSecretOnce(files.accessKeyId, () => ak.accessKeyId);
  writeSecretOnce(files.accessKeySecret, () => ak.accessKeySecret);
  const accessKeyId = readFileSync(files.accessKeyId, 'utf8').trim();
  const sm2Entry = (): Record<string, unknown> => {
    writeSecretOnce(files.sm2Pin, () => randomBytes(12).toString('hex'));
    return demoSm2TokenEntry(buildSm2TestModule(), files.sm2Pin);
  };
  if (!existsSync(files.config)) {
    const ids: DemoIds = { ca: randomUUID(), leaves: DEMO_SIGNING_SPECS.map(() => randomUUID()) };
    writeFileSync(files.ids, JSON.stringify(ids), { mode: 0o600 });
    const rsaId = ids.leaves[DEMO_SIGNING_SPECS.indexOf('RSA_2048')];
    const softHsmToken = {
      warehouseId: 1,
      name: 'demo',
      module: SOFTHSM_MODULE,
      tokenLabel: DEMO_TOKEN_LABEL,
      pin: { file: files.pin },
    };
    const doc = demoConfigDocument({
      accessKeyId,
      accessKeySecretFile: files.accessKeySecret,
      softHsmToken,
      ...(opts.sm2 ? { sm2Token: { warehouseId: 2, ...sm2Entry() } } : {}),
      ...(rsaId ? { blindSigningCertificate: rsaId } : {}),
    });
    writeDemoConfig(files.config, doc);
  } else if (opts.sm2 && !demoSm2Token(loadConfigFile(files.config).tokens)) {
    const warehouseId = addTokenToDemoConfig(files.config, accessKeyId, sm2Entry());
    log.info({ warehouseId }, 'the SM2 test token was added to the demo config');
  }
  const config = loadConfigFile(files.config);
  if (!softHsmTokenExists(conf, DEMO_TOKEN_LABEL)) initSoftHsmToken(conf, DEMO_TOKEN_LABEL, soPin, pin);
  const tokenConfig = config.tokens[0];
  if (!tokenConfig) throw new Error('demo config has no token');
  let token = new TokenManager(tokenConfig, log);
  await token.open();
  try {
    // Demo tokens provisioned before every identity carried lifecycle metadata (fail closed, decision 0013) had
    // their certificates ACTIVE by default: write that down once, so that an existing demo home keeps working.
    const unrecorded = token
      .entries()
      .filter((e) => e.certificate && e.problem === 'it has no lifecycle metadata object');
    for (const e of unrecorded) {
      await storeMetadata(token, e.id, { status: 'ACTIVE', ...(e.keySpec ? { keySpec: e.keySpec } : {}) });
    }
    if (unrecorded.length > 0) await token.refreshIndex();
    const leaves = token.entries().filter((e) => !e.isCA && e.certificate);
    if (leaves.length === 0) {
      if (token.entries().length > 0) {
        // A provisioning run that was interrupted: start the token over rather than mix old and new keys.
        await token.close();
        deleteSoftHsmToken(conf, DEMO_TOKEN_LABEL);
        initSoftHsmToken(conf, DEMO_TOKEN_LABEL, soPin, pin);
        token = new TokenManager(tokenConfig, log);
        await token.open();
      }
      log.info('provisioning the demo token: CA, RSA-2048 and EC P-256 keys generated inside the token');
      const ids = demoIds(files.ids);
      await provisionDemo(token, ids ? { ids } : {});
    }
    // After the certificates: a home provisioned before the demo had KMS keys gets them here, on its next start.
    const created = await ensureDemoKeys(token, config.server, accessKeyId);
    if (created.length > 0) log.info({ keyIds: created }, 'demo KMS signing keys generated inside the token');
  } finally {
    await token.close();
  }
  const sm2Token = demoSm2Token(config.tokens);
  if (sm2Token) {
    // Built again only when its source is newer (a fresh clone of a home made elsewhere has no build/).
    buildSm2TestModule();
    const sm2Pin = writeSecretOnce(files.sm2Pin, () => randomBytes(12).toString('hex'));
    await ensureDemoSm2Token(files.sm2Tokens, sm2Pin, sm2Token, log, { scope: config.server, creator: accessKeyId });
  }
  return config;
}

/** The `demo --json` contract: endpoint, demo credentials, and every demo certificate with its chain. */
export interface DemoInfo {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  certificates: Array<{
    id: string;
    keySpec: string;
    warehouseId: number;
    certificatePem: string;
    chainPem: string;
    /** Set on the SM2 test token's certificates (`--sm2`): a PKCS#11 test double, not an HSM. */
    testDouble?: true;
  }>;
  /** The demo's KMS signing keys (one per spec the demo token generates), primary version and public key. */
  keys: DemoKeyInfo[];
}

/** Reads the demo info from the home and every token of the config (the tokens are only read, never written). */
export async function demoInfo(home: string, config: Config): Promise<DemoInfo> {
  const files = demoFiles(home);
  const state = existsSync(files.state)
    ? (JSON.parse(readFileSync(files.state, 'utf8')) as { host?: string; port?: number })
    : {};
  if (config.tokens.length === 0) throw new Error('demo config has no token');
  const certificates: DemoInfo['certificates'] = [];
  const keys: DemoKeyInfo[] = [];
  for (const tokenConfig of config.tokens) {
    const read = await tokenIdentities(tokenConfig);
    certificates.push(...read.certificates);
    keys.push(...read.keys);
  }
  return {
    endpoint: `${state.host ?? config.server.host}:${state.port ?? config.server.port}`,
    accessKeyId: readFileSync(files.accessKeyId, 'utf8').trim(),
    accessKeySecret: readFileSync(files.accessKeySecret, 'utf8').trim(),
    certificates,
    keys,
  };
}

/**
 * The signing certificates of one token (its CA left out), by key spec, marked when the token is a test double;
 * and its demo KMS keys.
 */
async function tokenIdentities(
  tokenConfig: TokenConfig,
): Promise<{ certificates: DemoInfo['certificates']; keys: DemoKeyInfo[] }> {
  const token = new TokenManager(tokenConfig, silentLogger());
  await token.open();
  try {
    const testDouble = isSm2TestModule(tokenConfig.module) ? { testDouble: true as const } : {};
    const certificates = token
      .entries()
      .filter((e) => !e.isCA && e.certificate)
      .sort((a, b) => (a.keySpec ?? '').localeCompare(b.keySpec ?? ''))
      .map((e) => ({
        id: e.id,
        keySpec: e.keySpec ?? e.keyType,
        warehouseId: tokenConfig.warehouseId,
        certificatePem: pemEncode('CERTIFICATE', (e.certificate as NonNullable<typeof e.certificate>).raw),
        chainPem: e.chain.map((c) => pemEncode('CERTIFICATE', c)).join(''),
        ...testDouble,
      }));
    return { certificates, keys: demoKeysOf(token) };
  } finally {
    await token.close();
  }
}

/** Records the endpoint the demo daemon listens on (for `demo --json`). */
export function recordDemoEndpoint(home: string, host: string, port: number): void {
  writeFileSync(demoFiles(home).state, JSON.stringify({ host, port }), { mode: 0o600 });
}

/** The endpoint's host and port (the host may be an IPv6 literal with colons). */
function hostPort(endpoint: string): { host: string; port: string } {
  const at = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, at), port: endpoint.slice(at + 1) };
}

/**
 * Complete scripts that run as printed (`node example.js` with the SDK installed): CAS `Sign` with
 * `@alicloud/cas20200407` (its Config lives under openapi-core's `$OpenApiUtil`), and KMS
 * `CertificatePrivateKeySign` with `@alicloud/kms20160120`, whose 1.x client has no Certificate methods and so calls
 * the operation through its generic `doRequest`. They carry the demo's own credentials: this is a local demo.
 */
export function demoExamples(info: DemoInfo): { cas: string[]; kms: string[] } {
  const { host, port } = hostPort(info.endpoint);
  const endpoint = `${host}:${port}`;
  const rsa = info.certificates.find((c) => c.keySpec.startsWith('RSA')) ?? info.certificates[0];
  const id = rsa?.id ?? '<id>';
  const creds = `accessKeyId: '${info.accessKeyId}', accessKeySecret: '${info.accessKeySecret}'`;
  return {
    cas: [
      "const Cas = require('@alicloud/cas20200407');",
      "const { $OpenApiUtil } = require('@alicloud/openapi-core');",
      `const client = new Cas.default(new $OpenApiUtil.Config({ ${creds}, endpoint: '${endpoint}', protocol: 'http' }));`,
      `client.sign(new Cas.SignRequest({ certIdentifier: '${id}', message: 'hello', messageType: 'RAW', signingAlgorithm: 'SHA256withRSA' }))`,
      '  .then((r) => console.log(r.body.signature), (e) => { console.error(e.message); process.exitCode = 1; });',
    ],
    kms: [
      "const Kms = require('@alicloud/kms20160120');",
      `const client = new Kms.default({ ${creds}, endpoint: '${endpoint}', protocol: 'http', regionId: 'cn-hangzhou' });`,
      `const params = { CertificateId: '${id}', Algorithm: 'RSA_PKCS1_SHA_256', MessageType: 'RAW', Message: Buffer.from('hello').toString('base64') };`,
      "client.doRequest('CertificatePrivateKeySign', 'HTTPS', 'POST', '2016-01-20', 'AK', params, null, {})",
      '  .then((r) => console.log(r.SignatureValue), (e) => { console.error(e.message); process.exitCode = 1; });',
    ],
  };
}

/** The banner `npm start` prints: endpoint, credentials, certificates and SDK examples that run as printed. */
export function demoBanner(info: DemoInfo): string {
  const examples = demoExamples(info);
  const indent = (lines: string[]): string[] => lines.map((l) => `    ${l}`);
  return [
    '',
    `p11bridge is serving the Alibaba Cloud KMS (2016-01-20) and CAS (2020-04-07) signing APIs on http://${info.endpoint}/`,
    '',
    ...demoIdentityLines(info),
    '',
    '  CAS, with the official SDK (npm i @alicloud/cas20200407 @alicloud/openapi-core), as a file run with node:',
    ...indent(examples.cas),
    '',
    '  KMS, with the official SDK (npm i @alicloud/kms20160120), as a file run with node:',
    ...indent(examples.kms),
    '',
    '  npx p11bridge demo --json   prints all of this, with the certificates and chain, as JSON.',
    '',
  ].join('\n');
}

/** The banner lines both endpoints (HTTP and TLS) print: the credentials, the certificates and the KMS keys. */
export function demoIdentityLines(info: DemoInfo): string[] {
  return [
    `  AccessKeyId:     ${info.accessKeyId}`,
    `  AccessKeySecret: ${info.accessKeySecret}`,
    '  Certificates (KMS CertificateId = CAS CertIdentifier):',
    ...info.certificates.map(
      (c) =>
        `    ${c.id}  ${c.keySpec}  WarehouseId ${c.warehouseId}${c.testDouble ? '  (SM2 test token: a test double, not an HSM)' : ''}`,
    ),
    ...testDoubleNotice(info),
    ...demoKeyLines(info),
  ];
}

/**
 * The banner's lines on the demo KMS keys (AsymmetricSign/GetPublicKey take KeyId and KeyVersionId), shared by the
 * HTTP and HTTPS banners.
 */
function demoKeyLines(info: DemoInfo): string[] {
  if (info.keys.length === 0) return [];
  return [
    '  KMS signing keys (KeyId  KeyVersionId  KeySpec; AsymmetricSign, GetPublicKey, ...):',
    ...info.keys.map((k) => `    ${k.keyId}  ${k.keyVersionId}  ${k.keySpec}`),
  ];
}

/**
 * The banner's paragraph on the SM2 test token (`--sm2`), when the demo has it: what it is, that it is not an HSM,
 * and how SM2 is asked for. Shared by the HTTP and HTTPS banners.
 */
function testDoubleNotice(info: DemoInfo): string[] {
  const doubles = info.certificates.filter((c) => c.testDouble);
  if (doubles.length === 0) return [];
  const warehouses = [...new Set(doubles.map((c) => c.warehouseId))].join(', ');
  return [
    '',
    `  WarehouseId ${warehouses}: the SM2 test token (softhsm/sm2-test-token), a PKCS#11 TEST DOUBLE for an SM2 HSM.`,
    '  Its keys are plain files in the demo home: for developing SM2 applications, never for real keys.',
    '  SM2 signatures: KMS Algorithm SM2DSA, CAS SigningAlgorithm SM3withSM2 (user ID 1234567812345678);',
    '  encryption: SM2PKE. Point a real SM2 HSM at p11bridge with a profile from docs/hsm/.',
  ];
}
