import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors/apiError';

/** A decoded name/value pair, in wire order. */
export type Pair = [string, string];

/**
 * Splits an `a=b&c=d` string into decoded pairs. In a form body `+` is a space (x-www-form-urlencoded); in the
 * URL query it is a literal plus (RFC 3986), so a hand-written client that leaves `+` raw in a base64
 * `Signature` still verifies. The official SDKs always send `%2B` (protocol §3): both readings agree for them.
 */
export function parsePairs(s: string, plusIsSpace: boolean): Pair[] {
  const out: Pair[] = [];
  if (s.length === 0) return out;
  for (const part of s.split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([decode(k, plusIsSpace), decode(v, plusIsSpace)]);
  }
  return out;
}

function decode(s: string, plusIsSpace: boolean): string {
  const plus = plusIsSpace && s.indexOf('+') >= 0;
  if (s.indexOf('%') < 0 && !plus) return s;
  try {
    return decodeURIComponent(plus ? s.replace(/\+/g, ' ') : s);
  } catch {
    throw new ApiError('InvalidParameter', 'The request contains a malformed percent-encoded sequence.');
  }
}

/** The query string of a request URL (without `?`), and its path. */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** Reads the whole body up to `limit` bytes; a larger body is refused without buffering it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared === 0 && req.headers['transfer-encoding'] === undefined) return Promise.resolve(EMPTY);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const EMPTY = Buffer.alloc(0);

function tooLarge(limit: number): ApiError {
  return new ApiError('InvalidParameter', `The request body exceeds the limit of ${limit} bytes.`);
}

/** True when the body is a form the parameters ride in. */
export function isForm(req: IncomingMessage): boolean {
  const ct = req.headers['content-type'];
  return typeof ct === 'string' && ct.toLowerCase().startsWith('application/x-www-form-urlencoded');
}
