/**
 * Hand-made requests over node:http, for what no SDK lets a caller do: an old date, a replayed nonce, XML, garbage.
 * Signed with test/helpers/signRequest.ts, as the SDKs sign.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { signV1Query, signV3Request } from './signRequest';
import type { V3Algorithm } from '../../src/api/auth/signatureV3';
import type { Target } from './clients';

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
