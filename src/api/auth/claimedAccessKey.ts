import { parseV3Authorization } from './signatureV3';

/**
 * The AccessKeyId a request claims, read without authenticating it (V3: the Authorization header's Credential; V1:
 * the AccessKeyId parameter), so that a refused request can be attributed in the audit log. Never trusted for
 * anything else: the request was refused, maybe because the claim is false.
 */
export function claimedAccessKeyId(
  headers: Record<string, string | string[] | undefined>,
  pairs: ReadonlyArray<readonly [string, string]>,
): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('ACS3-')) {
    return parseV3Authorization(authorization)?.credential;
  }
  return pairs.find((p) => p[0] === 'AccessKeyId')?.[1];
}
