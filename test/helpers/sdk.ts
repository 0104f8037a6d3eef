/**
 * The official Alibaba Cloud clients, configured against a test daemon, and the plumbing the e2e suites share:
 * hand-made signed requests over node:http, a normalised view of how each SDK surfaces an error, and
 * independent signature verification (node:crypto and the `openssl` CLI).
 *
 * Client set (protocol §1, §3): `@alicloud/cas20200407` 3.x on openapi-core (V3 by default, V1 with `'v2'`,
 * SM3 with `'ACS3-HMAC-SM3'`), `cas13` (= cas20200407 1.3.0 on openapi-client 0.4.x), the current KMS generator
 * emulated with `callApi` and the exact `Params` it uses, and `@alicloud/pop-core` (V1, GET or form POST).
 */
import CasClient, { SignRequest } from '@alicloud/cas20200407';
import KmsClient from '@alicloud/kms20160120';
import { Config as RpcConfig } from '@alicloud/rpc-client';
import OpenApiCore, { $OpenApiUtil } from '@alicloud/openapi-core';
import OpenApiClient, * as $OpenApiClient from '@alicloud/openapi-client';
import RPCClient from '@alicloud/pop-core';
import * as $Util from '@alicloud/tea-util';
import * as $dara from '@darabonba/typescript';
import Cas13Client, * as $Cas13 from 'cas13';
import { spawnSync } from 'node:child_process';
import {
  createHash,
  randomBytes,
  verify as cryptoVerify,
  constants as cryptoConstants,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signV1Query, signV3Request } from './signRequest';
import type { V3Algorithm } from '../../src/api/auth/signatureV3';

export const KMS_VERSION = '2016-01-20';
export const CAS_VERSION = '2020-04-07';

/** What every client needs: where the daemon is and who calls. */
export interface Target {
  /** `127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

/** Credentials of another key on the same daemon. */
export function as(target: Target, key: { id: string; secret: string }): Target {
  return { endpoint: target.endpoint, accessKeyId: key.id, accessKeySecret: key.secret };
}

/** `signatureAlgorithm` of the tea/darabonba clients: V3 SHA-256 (default), V3 SM3, or V1 (`'v2'`). */
export type TeaSignature = 'ACS3-HMAC-SHA256' | 'ACS3-HMAC-SM3' | 'v2';

/** `@alicloud/cas20200407` 3.x (openapi-core 1.0.x). */
export function cas3(t: Target, opts: { signatureAlgorithm?: TeaSignature; securityToken?: string } = {}): CasClient {
  return new CasClient(
    new $OpenApiUtil.Config({
      accessKeyId: t.accessKeyId,
      accessKeySecret: t.accessKeySecret,
      endpoint: t.endpoint,
      protocol: 'http',
      ...(opts.signatureAlgorithm ? { signatureAlgorithm: opts.signatureAlgorithm } : {}),
      ...(opts.securityToken ? { securityToken: opts.securityToken } : {}),
    }),
  );
}

/** `@alicloud/cas20200407` 1.3.0 (openapi-client 0.4.x), installed as `cas13`. */
export function cas13(t: Target, opts: { signatureAlgorithm?: TeaSignature } = {}): Cas13Client {
  return new Cas13Client(
    new $OpenApiClient.Config({
      accessKeyId: t.accessKeyId,
      accessKeySecret: t.accessKeySecret,
      endpoint: t.endpoint,
      protocol: 'http',
      ...(opts.signatureAlgorithm ? { signatureAlgorithm: opts.signatureAlgorithm } : {}),
    }),
  );
}

/** The CAS `Sign` request fields (the SDK model's camelCase names). */
export interface CasSignFields {
  certIdentifier: string;
  message: string;
  messageType: string;
  signingAlgorithm: string;
}

/** CAS `Sign` through cas 3.x; returns the response body the SDK mapped. */
export async function casSign(
  client: CasClient,
  f: CasSignFields,
): Promise<{ signature?: string; requestId?: string }> {
  const res = await client.sign(new SignRequest(f));
  return { signature: res.body?.signature, requestId: res.body?.requestId };
}

/** CAS `Sign` through cas 1.3.0. */
export async function cas13Sign(
  client: Cas13Client,
  f: CasSignFields,
): Promise<{ signature?: string; requestId?: string }> {
  const res = await client.sign(new $Cas13.SignRequest(f));
  return { signature: res.body?.signature, requestId: res.body?.requestId };
}

/** A raw `callApi` answer: parsed JSON body, response headers, status. */
interface CallApiResult {
  body: Record<string, unknown>;
  headers: Record<string, string>;
  statusCode: number;
}

/**
 * Calls an RPC action the way a generated client does: `callApi` with all parameters in the query. An undefined
 * value is left out, as the generated clients leave out an unset field.
 */
export type RpcCaller = (
  action: string,
  query: Record<string, string | undefined>,
  version?: string,
) => Promise<CallApiResult>;

function definedOnly(query: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The `Params` every current generator uses for these RPC operations (protocol §1): the KMS 2016-01-20 client
 * (`kms-20160120/src/client.ts`) is emulated with exactly these on both runtimes.
 */
function rpcParams(action: string, version: string): Record<string, string> {
  return {
    action,
    version,
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  };
}

/** A KMS (or any RPC) caller on openapi-core 1.0.x. */
export function coreCaller(t: Target, opts: { signatureAlgorithm?: TeaSignature } = {}): RpcCaller {
  const client = new OpenApiCore(
    new $OpenApiUtil.Config({
      accessKeyId: t.accessKeyId,
      accessKeySecret: t.accessKeySecret,
      endpoint: t.endpoint,
      protocol: 'http',
      ...(opts.signatureAlgorithm ? { signatureAlgorithm: opts.signatureAlgorithm } : {}),
    }),
  );
  return async (action, query, version = KMS_VERSION) =>
    (await client.callApi(
      new $OpenApiUtil.Params(rpcParams(action, version)),
      new $OpenApiUtil.OpenApiRequest({ query: definedOnly(query) }),
      new $dara.RuntimeOptions({}),
    )) as CallApiResult;
}

/** A KMS (or any RPC) caller on openapi-client 0.4.x. */
export function teaCaller(t: Target, opts: { signatureAlgorithm?: TeaSignature } = {}): RpcCaller {
  const client = new OpenApiClient(
    new $OpenApiClient.Config({
      accessKeyId: t.accessKeyId,
      accessKeySecret: t.accessKeySecret,
      endpoint: t.endpoint,
      protocol: 'http',
      ...(opts.signatureAlgorithm ? { signatureAlgorithm: opts.signatureAlgorithm } : {}),
    }),
  );
  return async (action, query, version = KMS_VERSION) =>
    (await client.callApi(
      new $OpenApiClient.Params(rpcParams(action, version)),
      new $OpenApiClient.OpenApiRequest({ query: definedOnly(query) }),
      new $Util.RuntimeOptions({}),
    )) as CallApiResult;
}

/**
 * `@alicloud/kms20160120` 1.2.0, the one KMS client the registry serves (on `@alicloud/rpc-client`, V1 signatures).
 * It has no `Certificate*` methods, so calls go through its generic `doRequest`, exactly as its own methods do.
 * Errors surface as rpc-client builds them: `code` = `<Code>Error` (`Rejected.ThrottlingError`), `data` = the body.
 */
export function kmsRpc(t: Target): RpcCaller {
  const client = new KmsClient(
    new RpcConfig({
      accessKeyId: t.accessKeyId,
      accessKeySecret: t.accessKeySecret,
      endpoint: t.endpoint,
      protocol: 'http',
      regionId: 'cn-hangzhou',
    }),
  );
  return async (action, query, version = KMS_VERSION) => ({
    body: await client.doRequest(
      action,
      'HTTPS',
      'POST',
      version,
      'AK',
      definedOnly(query),
      {},
      new $Util.RuntimeOptions({}),
    ),
    headers: {},
    statusCode: 200,
  });
}

/** `@alicloud/pop-core` RPCClient (V1), in verbose mode so the HTTP status of every answer is visible. */
export interface PopClient {
  request(
    action: string,
    params: Record<string, string>,
    method?: 'GET' | 'POST',
  ): Promise<{ body: Record<string, unknown>; status: number }>;
}

interface PopEntry {
  response: { statusCode: number; headers: Record<string, string> };
}

export function pop(t: Target, apiVersion: string): PopClient {
  // pop-core's second constructor argument (`verbose`) is missing from its .d.ts.
  const Ctor = RPCClient as unknown as new (config: RPCClient.Config, verbose?: boolean) => RPCClient;
  const client = new Ctor(
    { accessKeyId: t.accessKeyId, accessKeySecret: t.accessKeySecret, endpoint: `http://${t.endpoint}`, apiVersion },
    true,
  );
  return {
    async request(action, params, method = 'GET') {
      const [body, entry] = await client.request<[Record<string, unknown>, PopEntry]>(action, params, { method });
      return { body, status: entry.response.statusCode };
    },
  };
}

/** How an SDK surfaced an error, normalised: the HTTP status when the SDK exposes it, and the Code. */
export interface SurfacedError {
  readonly name: string;
  readonly message: string;
  readonly statusCode?: number;
  readonly code?: string;
  readonly accessDeniedDetail?: Record<string, unknown>;
  readonly data?: Record<string, unknown>;
}

/** Runs `fn`, expecting it to reject; returns the error's SDK-level fields. Fails the test if it resolves. */
export async function sdkError(fn: () => Promise<unknown>): Promise<SurfacedError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    const f = e as Error & {
      statusCode?: unknown;
      code?: unknown;
      accessDeniedDetail?: unknown;
      data?: unknown;
      entry?: { response?: { statusCode?: number } };
    };
    const statusCode = typeof f.statusCode === 'number' ? f.statusCode : f.entry?.response?.statusCode;
    return {
      name: f.name,
      message: f.message,
      ...(statusCode === undefined ? {} : { statusCode }),
      ...(typeof f.code === 'string' ? { code: f.code } : {}),
      ...(f.accessDeniedDetail && typeof f.accessDeniedDetail === 'object'
        ? { accessDeniedDetail: f.accessDeniedDetail as Record<string, unknown> }
        : {}),
      ...(f.data && typeof f.data === 'object' ? { data: f.data as Record<string, unknown> } : {}),
    };
  }
  throw new Error(`expected the call to fail, it resolved with ${JSON.stringify(result)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Hand-made requests (node:http), for what no SDK lets a caller do: an old date, a replayed nonce, XML, garbage.

/** A raw HTTP answer. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one HTTP request to the daemon and reads the whole answer (a fresh connection each time). */
export function rawRequest(
  endpoint: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawResponse> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host,
        port: Number(port),
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** `YYYY-MM-DDTHH:mm:ssZ` for a moment `offsetMs` from now. */
export function acsDate(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A V1 (HMAC-SHA1) request as pop-core builds it: method and the `a=b&…&Signature=…` string. */
export interface V1Input {
  action: string;
  version: string;
  params: Record<string, string>;
  method?: 'GET' | 'POST';
  format?: string;
  /** Default: now. */
  timestamp?: string;
  nonce?: string;
}

/** Signs a V1 request and returns what to send: GET and POST both with the parameters in the query string. */
export function v1Request(t: Target, input: V1Input): { method: string; path: string } {
  const method = input.method ?? 'GET';
  const query = signV1Query({
    method,
    params: input.params,
    action: input.action,
    version: input.version,
    accessKeyId: t.accessKeyId,
    secret: t.accessKeySecret,
    timestamp: input.timestamp ?? acsDate(),
    nonce: input.nonce ?? randomBytes(16).toString('hex'),
    ...(input.format ? { format: input.format } : {}),
  });
  return { method, path: `/?${query}` };
}

/** A V3 request as openapi-core builds it. */
export interface V3Input {
  action: string;
  version: string;
  query: Record<string, string>;
  date?: string;
  nonce?: string;
  algorithm?: V3Algorithm;
}

export function v3Request(
  t: Target,
  input: V3Input,
): { method: string; path: string; headers: Record<string, string> } {
  const signed = signV3Request({
    method: 'POST',
    host: t.endpoint,
    query: input.query,
    action: input.action,
    version: input.version,
    accessKeyId: t.accessKeyId,
    secret: t.accessKeySecret,
    date: input.date ?? acsDate(),
    nonce: input.nonce ?? randomBytes(32).toString('hex'),
    ...(input.algorithm ? { algorithm: input.algorithm } : {}),
  });
  return { method: 'POST', path: signed.path, headers: { ...signed.headers, 'content-length': '0' } };
}

/** Parses a JSON answer body, failing with the raw text when it is not JSON. */
export function jsonOf(res: RawResponse): Record<string, unknown> {
  try {
    return JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (HTTP ${res.status}, ${String(res.headers['content-type'])}): ${res.body.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Independent verification.

/** The certificate's public key. */
function publicKeyOf(certificatePem: string): KeyObject {
  return new X509Certificate(certificatePem).publicKey;
}

/** node:crypto verification of an RSA PKCS#1 v1.5, RSA-PSS (given salt) or ECDSA (DER) signature over `data`. */
export function nodeVerify(
  certificatePem: string,
  kind: 'pkcs1' | 'pss' | 'ecdsa',
  data: Buffer,
  signature: Buffer,
  pssSaltLength = 32,
): boolean {
  const key = publicKeyOf(certificatePem);
  if (kind === 'pss') {
    return cryptoVerify(
      'sha256',
      data,
      { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltLength },
      signature,
    );
  }
  return cryptoVerify('sha256', data, key, signature);
}

/** A temporary directory for openssl's input files; `cleanup()` removes it. */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'p11bridge-e2e-'));
  #n = 0;

  /** Writes bytes or text to a new file and returns its path. */
  file(contents: Buffer | string, ext = 'bin'): string {
    const path = join(this.dir, `f${++this.#n}.${ext}`);
    writeFileSync(path, contents);
    return path;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `openssl` with arguments; returns exit status and combined output. */
export function openssl(args: string[], input?: Buffer): { status: number | null; output: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'buffer', timeout: 30000 });
  return { status: r.status, output: `${r.stdout.toString('utf8')}${r.stderr.toString('utf8')}` };
}

/** `openssl dgst -sha256 -verify` over the data (PSS with salt length 32). */
export function opensslVerifyData(
  scratch: Scratch,
  certificatePem: string,
  kind: 'pkcs1' | 'pss' | 'ecdsa',
  data: Buffer,
  signature: Buffer,
): { status: number | null; output: string } {
  const pub = scratch.file(publicKeyOf(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem');
  const pss = kind === 'pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
  return openssl([
    'dgst',
    '-sha256',
    '-verify',
    pub,
    ...pss,
    '-signature',
    scratch.file(signature),
    scratch.file(data),
  ]);
}

/** `openssl pkeyutl -verify` over a SHA-256 digest (PSS with salt length 32). */
export function opensslVerifyDigest(
  scratch: Scratch,
  certificatePem: string,
  kind: 'pkcs1' | 'pss' | 'ecdsa',
  digest: Buffer,
  signature: Buffer,
): { status: number | null; output: string } {
  const pub = scratch.file(publicKeyOf(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem');
  const pss = kind === 'pss' ? ['-pkeyopt', 'rsa_padding_mode:pss', '-pkeyopt', 'rsa_pss_saltlen:32'] : [];
  return openssl([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    pub,
    '-pkeyopt',
    'digest:sha256',
    ...pss,
    '-in',
    scratch.file(digest),
    '-sigfile',
    scratch.file(signature),
  ]);
}

/** `openssl cms -verify` of a detached DER SignedData against the content and the chain's root. */
export function opensslVerifyCms(
  scratch: Scratch,
  caPem: string,
  data: Buffer,
  cms: Buffer,
): { status: number | null; output: string } {
  return openssl([
    'cms',
    '-verify',
    '-binary',
    '-inform',
    'DER',
    '-in',
    scratch.file(cms, 'der'),
    '-content',
    scratch.file(data),
    '-CAfile',
    scratch.file(caPem, 'pem'),
    '-purpose',
    'any',
    '-out',
    join(scratch.dir, 'cms-out.bin'),
  ]);
}

/** True when `sig` is a DER `SEQUENCE { INTEGER r, INTEGER s }` covering the whole buffer. */
export function isDerEcdsaSignature(sig: Buffer): boolean {
  if (sig[0] !== 0x30 || sig[1] !== sig.length - 2) return false;
  let off = 2;
  for (let i = 0; i < 2; i++) {
    if (sig[off] !== 0x02) return false;
    const len = sig[off + 1] ?? 0;
    if (len < 1 || len > 33) return false;
    off += 2 + len;
  }
  return off === sig.length;
}

/** One DER TLV: tag byte, where its contents start and where it ends. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
  /** Offset of the tag byte. */
  readonly at: number;
}

function readTlv(der: Buffer, at: number): Tlv {
  const tag = der[at];
  let len = der[at + 1];
  if (tag === undefined || len === undefined) throw new Error(`DER truncated at ${at}`);
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  if (start + len > der.length) throw new Error(`DER length overruns at ${at}`);
  return { tag, start, end: start + len, at };
}

/** The TLVs directly inside a constructed TLV. */
function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end;) {
    const c = readTlv(der, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

function child(der: Buffer, parent: Tlv, i: number): Tlv {
  const c = children(der, parent)[i];
  if (!c) throw new Error(`DER: no child ${i} at ${parent.at}`);
  return c;
}

/** DER of OID 1.2.840.113549.1.9.4 (id-messageDigest). */
const ID_MESSAGE_DIGEST = Buffer.from('06092a864886f70d010904', 'hex');

/**
 * Verifies a detached CMS SignedData with node:crypto alone (a DER walk written for this test, RFC 5652 §5):
 * the one SignerInfo's messageDigest attribute is SHA-256(data), and its RSA PKCS#1 v1.5 signature over the
 * signed attributes, re-tagged as a SET (§5.4), verifies with the certificate's key.
 */
export function nodeVerifyCms(
  certificatePem: string,
  data: Buffer,
  cms: Buffer,
): { messageDigestOk: boolean; signatureOk: boolean } {
  const contentInfo = readTlv(cms, 0);
  const signedData = child(cms, child(cms, contentInfo, 1), 0);
  const parts = children(cms, signedData);
  const signerInfos = parts[parts.length - 1];
  if (!signerInfos || signerInfos.tag !== 0x31) throw new Error('CMS: no SignerInfos');
  const signerInfo = child(cms, signerInfos, 0);
  const fields = children(cms, signerInfo);
  const signedAttrs = fields.find((f) => f.tag === 0xa0);
  const signature = fields.find((f, i) => f.tag === 0x04 && i > 3);
  if (!signedAttrs || !signature) throw new Error('CMS: SignerInfo without signed attributes or signature');
  let messageDigest: Buffer | undefined;
  for (const attr of children(cms, signedAttrs)) {
    const [type, values] = children(cms, attr);
    if (type && values && cms.subarray(type.at, type.end).equals(ID_MESSAGE_DIGEST)) {
      const v = child(cms, values, 0);
      messageDigest = cms.subarray(v.start, v.end);
    }
  }
  const toSign = Buffer.from(cms.subarray(signedAttrs.at, signedAttrs.end));
  toSign[0] = 0x31;
  return {
    messageDigestOk: messageDigest !== undefined && messageDigest.equals(createHash('sha256').update(data).digest()),
    signatureOk: cryptoVerify(
      'sha256',
      toSign,
      publicKeyOf(certificatePem),
      cms.subarray(signature.start, signature.end),
    ),
  };
}
