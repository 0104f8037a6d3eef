import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';

/** Prometheus' text exposition format, version 0.0.4 (what prom-client renders). */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The metrics listener (`metrics.host`:`metrics.port`, loopback by default; docs/decisions/0025): `GET /metrics`
 * answers `render()`; anything else is 404. Apart from the API port so that the API's surface, its auth and its
 * limits stay as they are, and a scrape never queues behind signing requests.
 */
export async function startMetricsListener(
  settings: Config['metrics'],
  render: () => Promise<string>,
  log: Logger,
): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: settings.host, port }, 'metrics listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
