import express, { type Express } from 'express';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenRegistry } from './token/tokenRegistry';

export interface AppDeps {
  readonly tokens: TokenRegistry;
  /** The RPC endpoint handler (`/`, GET and POST). */
  readonly rpc: (req: IncomingMessage, res: ServerResponse) => void;
  /** True while the process is shutting down: /readyz answers 503 so load balancers drain us. */
  readonly isShuttingDown: () => boolean;
  /** Served over TLS: only then is HSTS sent (over plain HTTP it is ignored at best and misleading at worst). */
  readonly tls: boolean;
  /** The shared replay store's state (Redis), when there is one: not ready while it cannot be asked. */
  readonly replayStore?: () => { ready: boolean; reason?: string; since: number };
}

/**
 * The Express app: health endpoints, and the RPC endpoint at `/`. No listen, no env reads.
 * helmet's headers cover every answer; the RPC handler sets the same set itself (see api/render.ts) because
 * `main.ts` dispatches RPC calls before Express to keep the signing hot path lean.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(helmet({ strictTransportSecurity: deps.tls }));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // From the token layer's state only: a hung token never delays this answer (no token call here).
  app.get('/readyz', (_req, res) => {
    const tokens = deps.tokens.tokens.map((t) => ({
      warehouseId: t.warehouseId,
      name: t.config.name,
      state: t.state,
      ready: t.isReady(),
      ...(t.health.reason ? { reason: t.health.reason } : {}),
      since: new Date(t.health.since).toISOString(),
    }));
    const store = deps.replayStore?.();
    const replay = store && {
      ready: store.ready,
      ...(store.reason ? { reason: store.reason } : {}),
      since: new Date(store.since).toISOString(),
    };
    // Without its replay store a replica refuses every request (fail closed): the balancer should skip it.
    const ready = !deps.isShuttingDown() && tokens.some((t) => t.ready) && (store?.ready ?? true);
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not ready', tokens, ...(replay ? { replayStore: replay } : {}) });
  });
  app.all('/', (req, res) => deps.rpc(req, res));
  return app;
}
