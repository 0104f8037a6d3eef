import express, { type Express } from 'express';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenRegistry } from './token/tokenRegistry';
import { readiness } from './token/readiness';
import type { AuditHealth } from './audit/auditHealth';

/** The audit log in the /readyz answer: its state, and why and since when it is not ready. */
function auditBody(a: AuditHealth): Record<string, unknown> {
  return {
    ready: a.ready,
    required: a.required,
    ...(a.reason ? { reason: a.reason } : {}),
    ...(a.since !== undefined ? { since: new Date(a.since).toISOString() } : {}),
  };
}

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
  /** The audit log's state, when there is one (src/audit/auditHealth.ts). */
  readonly audit?: () => AuditHealth;
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
    const store = deps.replayStore?.();
    const replay = store && {
      ready: store.ready,
      ...(store.reason ? { reason: store.reason } : {}),
      since: new Date(store.since).toISOString(),
    };
    const report = readiness(deps.tokens, deps.isShuttingDown());
    const a = deps.audit?.();
    // Without its replay store a replica refuses every request (fail closed): the balancer should skip it. So
    // does a required audit log that cannot be written (it refuses every signature); one that is not required is
    // reported, and the process stays ready, DEGRADED (decision 0030).
    const ready = report.ready && (store?.ready ?? true) && (a === undefined || a.ready || !a.required);
    const degraded = a !== undefined && !a.ready;
    res.status(ready ? 200 : 503).json({
      ...report.body,
      ...(ready ? (degraded ? { health: 'DEGRADED' } : {}) : { status: 'not ready', health: 'UNAVAILABLE' }),
      ...(replay ? { replayStore: replay } : {}),
      ...(a ? { audit: auditBody(a) } : {}),
    });
  });
  app.all('/', (req, res) => deps.rpc(req, res));
  return app;
}
