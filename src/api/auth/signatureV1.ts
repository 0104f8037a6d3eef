import { createHmac } from 'node:crypto';

import { canonicalQuery, type ParamPair } from './canonicalQuery';
import { percentEncode } from './percentEncode';

/** The only `SignatureMethod` of the V1 scheme (compared case-insensitively: docs also show `Hmac-SHA1`). */
export const V1_SIGNATURE_METHOD = 'HMAC-SHA1';
/** The only `SignatureVersion` of the V1 scheme. */
export const V1_SIGNATURE_VERSION = '1.0';

/**
 * The V1 (HMAC-SHA1, `SignatureVersion=1.0`) string to sign, protocol §5 step 6:
 * `METHOD & percentEncode("/") & percentEncode(canonicalQuery(params))`.
 *
 * `params` are the decoded query ∪ form-body parameters *without* `Signature`; any order (they are sorted
 * here). `method` is used as received (upper case): the path is always `/` for RPC, hence the fixed `%2F`.
 */
export function v1StringToSign(method: string, params: readonly ParamPair[]): string {
  return method + '&%2F&' + percentEncode(canonicalQuery(params));
}

/**
 * The V1 signature, protocol §5 step 7: base64 HMAC-SHA1 of the UTF-8 string to sign, keyed with
 * `secret + "&"` (OAuth 1.0 heritage, where a token secret would follow the `&`; here it is always empty).
 * The caller compares in constant time.
 */
export function v1Signature(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret + '&')
    .update(stringToSign, 'utf8')
    .digest('base64');
}
