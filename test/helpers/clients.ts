/**
 * The official Alibaba Cloud clients, configured against a test daemon.
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
  const client = kmsClient(t);
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

/**
 * The `@alicloud/kms20160120` 1.2.0 client itself (V1 signatures through rpc-client), for its own typed methods
 * (`createKey`, `listKeyVersions`, `getPublicKey`, `asymmetricSign`, …).
 */
export function kmsClient(t: Target): KmsClient {
  return new KmsClient(
    new RpcConfig({
      accessKeyId: t.accessKeyId,
      accessKeySecret: t.accessKeySecret,
      endpoint: t.endpoint,
      protocol: 'http',
      regionId: 'cn-hangzhou',
    }),
  );
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
