import { randomUUID } from 'node:crypto';
import { request, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { signV3Request } from './signRequest';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** `YYYY-MM-DDTHH:mm:ssZ`, as the SDKs send x-acs-date. */
export function acsDate(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Sends a V3-signed RPC POST with node:http (no SDK), for tests that need the raw response. */
export function signedPost(
  endpoint: string,
  creds: { accessKeyId: string; secret: string },
  action: string,
  version: string,
  query: Record<string, string>,
  opts: {
    date?: string;
    nonce?: string;
    /** Send over HTTPS trusting `ca` (and presenting `cert`/`key` for mTLS). */
    tls?: { ca: string; cert?: string; key?: string };
    agent?: Agent;
  } = {},
): Promise<RawResponse> {
  const signed = signV3Request({
    method: 'POST',
    host: endpoint,
    query,
    action,
    version,
    accessKeyId: creds.accessKeyId,
    secret: creds.secret,
    date: opts.date ?? acsDate(),
    nonce: opts.nonce ?? randomUUID(),
  });
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const send = opts.tls ? httpsRequest : request;
    const req = send(
      {
        host,
        port: Number(port),
        method: 'POST',
        path: signed.path,
        headers: { ...signed.headers, 'content-length': '0' },
        ...(opts.tls ?? {}),
        ...(opts.agent ? { agent: opts.agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
