import { hash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema';
import { resolveSecret } from '../config/secret';

/** `metrics.auth` once validated. */
export type MetricsAuth = NonNullable<Config['metrics']['auth']>;

/** Checks a scrape's Authorization header; `challenge` is the WWW-Authenticate of a refusal (RFC 9110 §11.6.1). */
export interface ScrapeAuthorizer {
  readonly challenge: string;
  allows(authorization: string | undefined): boolean;
}

/** SHA-256 of the credential: equal lengths for timingSafeEqual, and the secret itself is not kept in a Buffer. */
function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/**
 * The metrics listener's authentication (decision 0030): a bearer token (`Authorization: Bearer <token>`) or basic
 * auth (`Authorization: Basic base64(user:password)`), compared in constant time. The secret is read once, here,
 * from its file or environment variable; the refusal names no reason (a scraper's own config is at fault).
 * @throws Error naming the secret reference when it cannot be read
 */
export function scrapeAuthorizer(auth: MetricsAuth): ScrapeAuthorizer {
  const [scheme, expected, challenge] =
    'bearerToken' in auth
      ? ['bearer', digest(resolveSecret(auth.bearerToken).reveal()), 'Bearer realm="p11bridge metrics"']
      : [
          'basic',
          digest(`${auth.username}:${resolveSecret(auth.password).reveal()}`),
          'Basic realm="p11bridge metrics", charset="UTF-8"',
        ];
  return {
    challenge,
    allows(authorization) {
      if (authorization === undefined) return false;
      const space = authorization.indexOf(' ');
      if (space < 0 || authorization.slice(0, space).toLowerCase() !== scheme) return false;
      const credentials = authorization.slice(space + 1).trim();
      const presented = scheme === 'basic' ? Buffer.from(credentials, 'base64').toString('utf8') : credentials;
      return timingSafeEqual(digest(presented), expected);
    },
  };
}
