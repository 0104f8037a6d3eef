import { ApiError, invalidParameter } from '../../errors/apiError';
import { ERROR_CATALOGUE } from '../../errors/catalogue';
import type { ParamPair } from './canonicalQuery';
import { constantTimeEqual } from './constantTimeEqual';
import { parseTimestamp } from './parseTimestamp';
import type { NonceStore, SyncNonceStore } from './nonceStore';
import type { NonceCache } from './replayCache';
import { V1_SIGNATURE_METHOD, V1_SIGNATURE_VERSION, v1Signature, v1StringToSign } from './signatureV1';
import {
  isV3Algorithm,
  parseV3Authorization,
  v3CanonicalHeaders,
  v3CanonicalQuery,
  v3CanonicalRequest,
  v3PayloadHash,
  v3Signature,
  v3StringToSign,
  type HeaderBag,
} from './signatureV3';

export { requestedFormat } from './requestedFormat';

/** What authentication needs to know about an HTTP request; built by the RPC parser. */
export interface RpcRequestView {
  /** Upper-case HTTP method. */
  method: string;
  /** Decoded query pairs, wire order. */
  query: Array<[string, string]>;
  /** Decoded `application/x-www-form-urlencoded` body pairs (empty if none). */
  body: Array<[string, string]>;
  /** Raw body bytes (for the V3 payload hash). */
  rawBody: Buffer;
  /** Node's lower-cased headers. */
  headers: Record<string, string | string[] | undefined>;
}

/** One AccessKey as the credential store knows it. */
export interface AccessKeyRecord {
  id: string;
  secret: string;
  enabled: boolean;
}

/** Everything {@link authenticate} uses besides the request, injected. */
export interface AuthDeps<S extends NonceStore = NonceCache> {
  findAccessKey(id: string): AccessKeyRecord | undefined;
  /** The clock, ms since the epoch. */
  now(): number;
  /** The replay window; its TTL must be at least `2 × maxSkewMs` (see `DEFAULT_NONCE_TTL_MS`). */
  nonces: S;
  /** Largest accepted |server time − request time|, ms; default {@link DEFAULT_MAX_SKEW_MS}. */
  maxSkewMs?: number;
  /**
   * Accept a V1 request without `SignatureNonce` (config `auth.allowV1WithoutNonce`): KMS does not list it among
   * its common parameters and the legacy `@alicloud/kms-sdk` never sends one. Such a request is protected by the
   * timestamp window only: it can be replayed within it (docs/configuration.md).
   */
  allowV1WithoutNonce?: boolean;
  /**
   * Called once the signature verified and before the nonce is recorded: throws to refuse the key (its rate
   * limit, issue 16). Only a verified request may spend a key's budget, and a refused one burns no nonce.
   */
  admit?(accessKeyId: string, now: number): void;
  /**
   * Refuse a request signed before this time, ms since the epoch (issue 17): the replay window in memory starts
   * then, so an older request may have been accepted by the process before. A timestamp is a whole second, so a
   * fresh request is refused too in what is left of the window's first second (the daemon listens after it).
   */
  notBefore?: number;
}

/** Who called and what they asked for, once the request is authenticated. */
export interface AuthResult {
  scheme: 'V1' | 'V3';
  /** `HMAC-SHA1`, `ACS3-HMAC-SHA256` or `ACS3-HMAC-SM3`. */
  signatureMethod: string;
  accessKeyId: string;
  action: string | undefined;
  version: string | undefined;
  /** Business parameters: query ∪ body (body wins), minus the common and authentication parameters. */
  params: Map<string, string>;
}

/** Timestamps more than 15 minutes from the server clock are expired (protocol §4, §7 item 5). */
const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

/** Longest accepted nonce: SDKs send 32 or 64 hex, docs suggest a UUID (36); this bounds cache memory. */
const MAX_NONCE_LENGTH = 128;

/** Common and authentication parameters (protocol §4): never passed on as business parameters. */
const COMMON_PARAMS: ReadonlySet<string> = new Set([
  'Action',
  'Version',
  'Format',
  'AccessKeyId',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'Timestamp',
  'Signature',
  'SignatureType',
  'SecurityToken',
  'RegionId',
]);

/** Headers a V3 request must sign (protocol §6 notes): without them a signature could be replayed or moved. */
const V3_REQUIRED_SIGNED_HEADERS = [
  'host',
  'x-acs-action',
  'x-acs-version',
  'x-acs-date',
  'x-acs-signature-nonce',
  'x-acs-content-sha256',
] as const;

/**
 * Authenticates an Alibaba Cloud RPC request signed with V1 (HMAC-SHA1) or V3 (ACS3-HMAC-SHA256/SM3),
 * protocol §5–§7, and returns the caller, the action and the business parameters.
 *
 * Checks run in this order, each failing with its own `ApiError`: scheme and shape (`IncompleteSignature`,
 * `InvalidSignatureMethod`, `InvalidSecurityToken.Malformed`, `InvalidParameter` for a repeated parameter),
 * AccessKey (`InvalidAccessKeyId.NotFound`/`.Inactive`), time (`InvalidTimeStamp.Format`/`.Expired`),
 * signature (`SignatureDoesNotMatch`), nonce (`SignatureNonceUsed`; `ServiceUnavailable` if the replay window
 * is full). The nonce is recorded only once the signature verified, so a forged request cannot burn it.
 * No error message carries the secret or a computed signature.
 *
 * With a synchronous nonce store (one process) the result is immediate; with the cluster's shared store it is a
 * promise that settles once the primary has recorded the nonce.
 *
 * @throws ApiError
 */
export function authenticate(req: RpcRequestView, deps: AuthDeps<SyncNonceStore>): AuthResult;
export function authenticate(req: RpcRequestView, deps: AuthDeps<NonceStore>): AuthResult | Promise<AuthResult>;
export function authenticate(req: RpcRequestView, deps: AuthDeps<NonceStore>): AuthResult | Promise<AuthResult> {
  const params = mergeParams(req.query, req.body);
  const authorization = headerValue(req.headers, 'authorization');
  const isV3 = authorization !== undefined && authorization.startsWith('ACS3-');
  if (!isV3 && !params.has('Signature')) {
    throw incompleteSignature('Sign the request with an ACS3 Authorization header or a Signature parameter.');
  }
  // STS tokens are signed like any other parameter or header, but there is no STS to validate them
  // against (protocol §7 item 8): refuse before spending anything on the signature.
  if (params.has('SecurityToken') || req.headers['x-acs-security-token'] !== undefined) {
    throw new ApiError('InvalidSecurityToken.Malformed');
  }
  return isV3 ? authenticateV3(req, authorization, params, deps) : authenticateV1(req, params, deps);
}

function authenticateV1(
  req: RpcRequestView,
  params: Map<string, string>,
  deps: AuthDeps<NonceStore>,
): AuthResult | Promise<AuthResult> {
  const signatureMethod = params.get('SignatureMethod');
  if (signatureMethod === undefined || signatureMethod === '') {
    throw incompleteSignature('SignatureMethod is missing.');
  }
  if (signatureMethod.toUpperCase() !== V1_SIGNATURE_METHOD) throw new ApiError('InvalidSignatureMethod');
  if (params.get('SignatureVersion') !== V1_SIGNATURE_VERSION) {
    throw incompleteSignature(`SignatureVersion must be ${V1_SIGNATURE_VERSION}.`);
  }
  // SignatureType=BEARERTOKEN selects bearer-token authentication, which is out of scope (protocol §4).
  if (params.has('SignatureType')) {
    throw new ApiError('InvalidSignatureMethod', 'Bearer-token authentication (SignatureType) is not supported.');
  }
  const accessKeyId = requiredParam(params, 'AccessKeyId');
  const timestamp = requiredParam(params, 'Timestamp');
  const sentNonce = params.get('SignatureNonce');
  const nonce =
    sentNonce === undefined && deps.allowV1WithoutNonce === true
      ? undefined
      : checkedNonce(sentNonce, 'SignatureNonce');
  const signature = params.get('Signature') ?? '';

  const key = activeAccessKey(deps, accessKeyId);
  const now = deps.now();
  checkTimestamp(timestamp, now, deps);

  const signed: ParamPair[] = [];
  for (const pair of params) {
    if (pair[0] !== 'Signature') signed.push(pair);
  }
  const expected = v1Signature(key.secret, v1StringToSign(req.method, signed));
  if (!constantTimeEqual(expected, signature)) throw new ApiError('SignatureDoesNotMatch');

  const result: AuthResult = {
    scheme: 'V1',
    signatureMethod: V1_SIGNATURE_METHOD,
    accessKeyId,
    action: params.get('Action'),
    version: params.get('Version'),
    params: businessParams(params),
  };
  // No nonce (operator opt-in): the timestamp window checked above is the only replay protection.
  return nonce === undefined ? result : claimNonce(deps, accessKeyId, nonce, now, result);
}

function authenticateV3(
  req: RpcRequestView,
  authorization: string,
  params: Map<string, string>,
  deps: AuthDeps<NonceStore>,
): AuthResult | Promise<AuthResult> {
  const auth = parseV3Authorization(authorization);
  if (auth === undefined) throw incompleteSignature('The Authorization header is malformed.');
  const algorithm = auth.algorithm;
  if (!isV3Algorithm(algorithm)) throw new ApiError('InvalidSignatureMethod');
  const names = auth.signedHeaderNames;
  for (const required of V3_REQUIRED_SIGNED_HEADERS) {
    if (!names.includes(required)) throw incompleteSignature(`SignedHeaders must include ${required}.`);
  }
  // The body hash protects the bytes, but content-type decides whether they are read as parameters at all:
  // it must be signed too when a form body is used (the SDK always signs it, protocol §6 notes).
  if (req.body.length > 0 && !names.includes('content-type')) {
    throw incompleteSignature('SignedHeaders must include content-type when the request has a form body.');
  }
  const canonicalHeaders = v3CanonicalHeaders(names, req.headers);
  if (canonicalHeaders === undefined) throw incompleteSignature('A header listed in SignedHeaders is missing.');
  // Present: each is in SignedHeaders, and v3CanonicalHeaders found every listed header.
  const timestamp = headerValue(req.headers, 'x-acs-date') ?? '';
  const nonce = checkedNonce(headerValue(req.headers, 'x-acs-signature-nonce'), 'x-acs-signature-nonce');
  const contentHash = headerValue(req.headers, 'x-acs-content-sha256') ?? '';

  const key = activeAccessKey(deps, auth.credential);
  const now = deps.now();
  checkTimestamp(timestamp, now, deps);

  const payloadHash = v3PayloadHash(algorithm, req.rawBody);
  if (payloadHash !== contentHash) {
    throw new ApiError('SignatureDoesNotMatch', 'The x-acs-content-sha256 header does not match the request body.');
  }
  const canonicalRequest = v3CanonicalRequest({
    method: req.method,
    canonicalQuery: v3CanonicalQuery(req.query),
    canonicalHeaders,
    signedHeaders: auth.signedHeaders,
    payloadHash,
  });
  const expected = v3Signature(algorithm, key.secret, v3StringToSign(algorithm, canonicalRequest));
  if (!constantTimeEqual(expected, auth.signature)) throw new ApiError('SignatureDoesNotMatch');

  // V3 moves Action/Version to headers (§0 item 5); a hybrid client may still send them as parameters.
  return claimNonce(deps, auth.credential, nonce, now, {
    scheme: 'V3',
    signatureMethod: algorithm,
    accessKeyId: auth.credential,
    action: headerValue(req.headers, 'x-acs-action') || params.get('Action'),
    version: headerValue(req.headers, 'x-acs-version') || params.get('Version'),
    params: businessParams(params),
  });
}

/**
 * Query ∪ body, body winning on a name in both (the SDK signs `{...query, ...body}`, protocol §5 step 1).
 * A name repeated *within* the query or the body is refused: no SDK sends one, and accepting it would need
 * a rule for which value counts that every layer agrees on.
 */
function mergeParams(query: readonly ParamPair[], body: readonly ParamPair[]): Map<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of query) {
    if (params.has(name)) throw repeatedParameter(name);
    params.set(name, value);
  }
  if (body.length > 0) {
    const seen = new Set<string>();
    for (const [name, value] of body) {
      if (seen.has(name)) throw repeatedParameter(name);
      seen.add(name);
      params.set(name, value);
    }
  }
  return params;
}

function businessParams(params: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of params) {
    if (!COMMON_PARAMS.has(name)) out.set(name, value);
  }
  return out;
}

/**
 * A header as one string: node gives a string for almost every header; an array (only when the caller
 * passes `headersDistinct`, or for set-cookie) is joined the way {@link v3CanonicalHeaders} joins it.
 */
function headerValue(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return value?.trim();
  return value.length === 0
    ? undefined
    : value
        .map((v) => v.trim())
        .sort()
        .join(',');
}

function requiredParam(params: Map<string, string>, name: string): string {
  const value = params.get(name);
  if (value === undefined || value === '') throw incompleteSignature(`${name} is missing.`);
  return value;
}

function checkedNonce(nonce: string | undefined, name: string): string {
  if (nonce === undefined || nonce === '') throw incompleteSignature(`${name} is missing.`);
  if (nonce.length > MAX_NONCE_LENGTH) {
    throw incompleteSignature(`${name} must be at most ${MAX_NONCE_LENGTH} characters.`);
  }
  return nonce;
}

function activeAccessKey(deps: AuthDeps<NonceStore>, accessKeyId: string): AccessKeyRecord {
  const key = deps.findAccessKey(accessKeyId);
  if (key === undefined) throw new ApiError('InvalidAccessKeyId.NotFound');
  if (!key.enabled) throw new ApiError('InvalidAccessKeyId.Inactive');
  return key;
}

function checkTimestamp(value: string, now: number, deps: AuthDeps<NonceStore>): void {
  const at = parseTimestamp(value);
  if (at === undefined) throw new ApiError('InvalidTimeStamp.Format');
  if (Math.abs(now - at) > (deps.maxSkewMs ?? DEFAULT_MAX_SKEW_MS)) throw new ApiError('InvalidTimeStamp.Expired');
  if (deps.notBefore !== undefined && at < deps.notBefore)
    throw new ApiError('InvalidTimeStamp.Expired', SIGNED_BEFORE_START);
}

/** The message when a request predates the replay window (docs/decisions/0024-replay-store.md). */
const SIGNED_BEFORE_START =
  "The specified timestamp is earlier than the start of this server's replay protection; sign the request again.";

/** Records the nonce (last: only a verified request may burn one) and hands back the result once it is fresh. */
function claimNonce(
  deps: AuthDeps<NonceStore>,
  accessKeyId: string,
  nonce: string,
  now: number,
  result: AuthResult,
): AuthResult | Promise<AuthResult> {
  deps.admit?.(accessKeyId, now);
  const fresh = deps.nonces.checkAndRecord(accessKeyId, nonce, now);
  if (fresh === true) return result;
  if (fresh === false) throw new ApiError('SignatureNonceUsed');
  return fresh.then((ok) => {
    if (!ok) throw new ApiError('SignatureNonceUsed');
    return result;
  });
}

function incompleteSignature(detail: string): ApiError {
  return new ApiError('IncompleteSignature', `${ERROR_CATALOGUE.IncompleteSignature.message} ${detail}`);
}

function repeatedParameter(name: string): ApiError {
  return invalidParameter(name, 'it appears more than once.');
}
