import { request } from 'node:http';

/** An answer with a JSON body. */
export interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Sends one request on a new TCP connection (no keep-alive agent), so that a cluster's round-robin spreads
 * consecutive requests over its workers, and parses the JSON answer. `signed` is what signV3Request returns (or any
 * method, path and headers).
 */
export function sendOnNewConnection(
  port: number,
  signed: { method?: string; path: string; headers?: Record<string, string> },
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: signed.method ?? 'POST',
        path: signed.path,
        headers: signed.headers ?? {},
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
