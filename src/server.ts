import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NonceStore } from './api/auth/nonceStore';
import { NonceCache } from './api/auth/replayCache';
import type { ResolvedAccessKey } from './api/permissions';
import { createRpcHandler } from './api/rpcHandler';
import { createApp } from './app';
import type { Config } from './config/schema';
import { resolveSecret } from './config/secret';
import type { Logger } from './observability/logger';
import { createOperationRegistry } from './ops';
import type { LoginGate } from './token/loginGate';
import { TokenRegistry } from './token/tokenRegistry';

export interface RunningDaemon {
  readonly server: Server;
  readonly port: number;
  readonly host: string;
  readonly tokens: TokenRegistry;
  /** Requests received and not yet answered. */
  readonly inflight: () => number;
  /** Graceful stop: refuse new connections, finish in-flight requests (until the deadline), close tokens. */
  stop(): Promise<void>;
  /** SIGHUP: re-reads what can change without a restart (token PINs). */
  reload(): Promise<void>;
}

/** Exit status of the ladder's last rung (EX_SOFTWARE): the supervisor restarts the process. */
export const EXIT_TOKEN_FATAL = 70;

/** Resolves every access key's secret once, at start (env or file; never logged). */
export function resolveAccessKeys(config: Config): Map<string, ResolvedAccessKey> {
  const out = new Map<string, ResolvedAccessKey>();
  for (const k of config.auth.accessKeys) {
    out.set(k.id, {
      id: k.id,
      secret: resolveSecret(k.secret).reveal(),
      enabled: k.enabled,
      actions: k.actions,
      certificates: k.certificates,
    });
  }
  return out;
}

/**
 * Starts the daemon: tokens open (login, index, probe), then the HTTP server listens.
 * RPC calls (`/` with GET or POST) go straight to the RPC handler; everything else goes through Express.
 */
export async function startDaemon(
  config: Config,
  log: Logger,
  opts: { now?: () => number; nonces?: NonceStore; loginGate?: LoginGate; onFatal?: (reason: string) => void } = {},
): Promise<RunningDaemon> {
  const accessKeys = resolveAccessKeys(config);
  const fatal: { stop?: () => Promise<void> } = {};
  // The last rung of the recovery ladder: stop serving and exit non-zero, so that the supervisor (systemd, or the
  // cluster primary for a worker) starts a fresh process.
  const onFatal =
    opts.onFatal ??
    ((reason: string): void => {
      log.fatal({ reason }, 'token cannot recover: exiting for the supervisor to restart the process');
      const exit = (): never => {
        log.flush();
        process.exit(EXIT_TOKEN_FATAL);
      };
      setTimeout(exit, 5000).unref();
      void (fatal.stop?.() ?? Promise.resolve()).finally(exit);
    });
  const tokens = TokenRegistry.fromConfig(config, log, {
    ...(opts.loginGate ? { loginGate: opts.loginGate } : {}),
    onFatal,
  });
  await tokens.open({ tolerateUnavailable: true });
  let shuttingDown = false;
  const rpc = createRpcHandler({
    config,
    tokens,
    operations: createOperationRegistry(),
    accessKeys,
    nonces:
      opts.nonces ??
      new NonceCache({ ttlMs: config.auth.nonceTtlSeconds * 1000, maxEntries: config.auth.nonceMaxEntries }),
    log,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const app = createApp({ tokens, rpc, isShuttingDown: () => shuttingDown });
  const isRpc = (req: IncomingMessage): boolean =>
    (req.method === 'POST' || req.method === 'GET') &&
    req.url !== undefined &&
    (req.url === '/' || req.url.startsWith('/?'));
  let inflight = 0;
  let idle: (() => void) | undefined;
  const server = createServer(
    { maxHeaderSize: config.server.maxHeaderSize },
    (req: IncomingMessage, res: ServerResponse) => {
      inflight++;
      res.once('close', () => {
        inflight--;
        if (inflight === 0 && idle) idle();
      });
      if (isRpc(req)) rpc(req, res);
      else app(req, res);
    },
  );
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.requestTimeout = 60000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, tokens: tokens.tokens.map((t) => t.config.name) }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      shuttingDown = true;
      server.close();
      server.closeIdleConnections();
      const deadline = config.server.shutdownTimeoutMs;
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      server.closeAllConnections();
      await tokens.close(deadline);
      log.info('stopped');
    })();
    return stopping;
  };
  fatal.stop = stop;
  const reload = async (): Promise<void> => {
    log.info('reload: re-reading token PINs');
    await tokens.reload();
  };
  return { server, port: address.port, host: config.server.host, tokens, inflight: () => inflight, stop, reload };
}
