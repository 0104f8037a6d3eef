import { canonicalQuery, type ParamPair } from '../../src/api/auth/canonicalQuery';
import { percentEncode } from '../../src/api/auth/percentEncode';
import { V1_SIGNATURE_METHOD, V1_SIGNATURE_VERSION, v1Signature, v1StringToSign } from '../../src/api/auth/signatureV1';
import {
  v3CanonicalHeaders,
  v3CanonicalRequest,
  v3PayloadHash,
  v3Signature,
  v3StringToSign,
  type V3Algorithm,
} from '../../src/api/auth/signatureV3';

/** Inputs of {@link signV3Request}; the clock and the nonce are the caller's. */
export interface SignV3RequestInput {
  method: string;
  /** The `Host` header exactly as it will be sent, port included (`127.0.0.1:8443`). */
  host: string;
  /** Business parameters, sent in the query string as the SDKs do. */
  query: Record<string, string>;
  /** A form body, hashed as UTF-8 and sent as given. */
  body?: string;
  /** Content type of `body`; default `application/x-www-form-urlencoded` when there is a body. */
  contentType?: string;
  action: string;
  version: string;
  accessKeyId: string;
  secret: string;
  /** `YYYY-MM-DDTHH:mm:ssZ`. */
  date: string;
  nonce: string;
  /** Default `ACS3-HMAC-SHA256`, the SDK default. */
  algorithm?: V3Algorithm;
}

/** A V3-signed request: the path with its query, and every header to send (lower-case names). */
export interface SignedV3Request {
  /** `/?` + the canonical query string (`/` when there are no parameters). */
  path: string;
  headers: Record<string, string>;
}

/**
 * Signs a request the way `@alicloud/openapi-core` does by default (V3, protocol §3 and §6): business
 * parameters in the query, `Action`/`Version`/date/nonce in `x-acs-*` headers, every header signed.
 * For tests and the benchmark; built from the same primitives the verifier uses.
 *
 * The query is sent in its canonical (RFC 3986, sorted) form, which decodes to the same pairs as the SDK's
 * `querystring` form.
 */
export function signV3Request(input: SignV3RequestInput): SignedV3Request {
  const algorithm = input.algorithm ?? 'ACS3-HMAC-SHA256';
  const body = input.body ?? '';
  const query = canonicalQuery(Object.entries(input.query));
  const headers: Record<string, string> = {
    host: input.host,
    'x-acs-action': input.action,
    'x-acs-version': input.version,
    'x-acs-date': input.date,
    'x-acs-signature-nonce': input.nonce,
    'x-acs-content-sha256': v3PayloadHash(algorithm, body),
  };
  if (body !== '') headers['content-type'] = input.contentType ?? 'application/x-www-form-urlencoded';
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = v3CanonicalRequest({
    method: input.method,
    canonicalQuery: query,
    // Every name was just set, so the canonical headers are always defined here.
    canonicalHeaders: v3CanonicalHeaders(names, headers) ?? '',
    signedHeaders,
    payloadHash: headers['x-acs-content-sha256']!,
  });
  const signature = v3Signature(algorithm, input.secret, v3StringToSign(algorithm, canonicalRequest));
  headers['authorization'] =
    `${algorithm} Credential=${input.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return { path: query === '' ? '/' : '/?' + query, headers };
}

/** Inputs of {@link signV1Query}; the clock and the nonce are the caller's. */
export interface SignV1QueryInput {
  method: string;
  /** Business parameters. */
  params: Record<string, string>;
  action: string;
  version: string;
  accessKeyId: string;
  secret: string;
  /** `YYYY-MM-DDTHH:mm:ssZ`. */
  timestamp: string;
  nonce: string;
  /** Default `JSON`. */
  format?: string;
}

/**
 * Signs a V1 (HMAC-SHA1) request the way pop-core does (protocol §3, §5): every common and business
 * parameter plus `Signature`, RFC 3986-encoded and sorted, as one `a=b&c=d` string without a leading `?`.
 * Send it as the query (`GET /?…` or bodyless `POST /?…`) or as an `application/x-www-form-urlencoded` body.
 */
export function signV1Query(input: SignV1QueryInput): string {
  const pairs: ParamPair[] = [
    ['Action', input.action],
    ['Version', input.version],
    ['Format', input.format ?? 'JSON'],
    ['AccessKeyId', input.accessKeyId],
    ['SignatureMethod', V1_SIGNATURE_METHOD],
    ['SignatureVersion', V1_SIGNATURE_VERSION],
    ['SignatureNonce', input.nonce],
    ['Timestamp', input.timestamp],
    ...Object.entries(input.params),
  ];
  const signature = v1Signature(input.secret, v1StringToSign(input.method, pairs));
  return canonicalQuery(pairs) + '&Signature=' + percentEncode(signature);
}
