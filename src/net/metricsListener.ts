import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import { scrapeAuthorizer, type ScrapeAuthorizer } from './scrapeAuth';
import { loadTlsMaterial } from './tlsOptions';

/** Prometheus' text exposition format, version 0.0.4 (what prom-client renders). */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A scrape that has not sent its request head in this time is cut (the API port's limits do not apply here). */
const HEADERS_TIMEOUT_MS = 10_000;

export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

/** True for an address only this host can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * The metrics listener (`metrics.host`:`metrics.port`, loopback by default; docs/decisions/0025 and 0030):
 * `GET /metrics` answers `render()`; anything else is 404. Apart from the API port so that the API's surface, its
 * auth and its limits stay as they are, and a scrape never queues behind signing requests. With `metrics.tls` it
 * speaks HTTPS only; with `metrics.auth` every request without the bearer token or basic-auth credentials is
 * answered 401 before anything else (its path included). TLS and auth are read at start: changing them needs a
 * restart (reload lists `metrics` among the settings that do).
 * @throws Error when the TLS files or the auth secret cannot be read, or the port cannot be bound
 */
export async function startMetricsListener(
  settings: Config['metrics'],
  render: () => Promise<string>,
  log: Logger,
): Promise<MetricsListener> {
  const authorizer: ScrapeAuthorizer | undefined = settings.auth ? scrapeAuthorizer(settings.auth) : undefined;
  const tls = settings.tls ? loadTlsMaterial(settings.tls, 'metrics.tls') : undefined;
  const handler: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    if (authorizer && !authorizer.allows(req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': authorizer.challenge });
      res.end('unauthorized\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(text),
      (e: unknown) => {
        log.warn({ err: e instanceof Error ? e.message : String(e) }, 'metrics scrape failed');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  };
  const options = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: HEADERS_TIMEOUT_MS * 3 };
  const server: Server = tls
    ? createHttpsServer(
        {
          ...options,
          ...tls.context,
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.rejectUnauthorized,
          handshakeTimeout: HEADERS_TIMEOUT_MS,
        },
        handler,
      )
    : createServer(options, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: settings.host, port, tls: tls !== undefined, auth: authorizer !== undefined }, 'metrics listening');
  if (!isLoopback(settings.host) && !(tls && authorizer)) {
    // Not refused: a management network may be trusted. But the operator should know what crosses it.
    log.warn(
      { host: settings.host, tls: tls !== undefined, auth: authorizer !== undefined },
      authorizer
        ? 'metrics scrape credentials travel in clear text off this host: set metrics.tls'
        : 'metrics are served off this host without authentication: set metrics.auth (and metrics.tls)',
    );
  }
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
