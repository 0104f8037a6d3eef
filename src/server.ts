import { startKeyPurge } from './identities/keys/purgeSweep';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { Server as TlsServer } from 'node:tls';
import type { NonceStore } from './api/auth/nonceStore';
import { NonceCache } from './api/auth/replayCache';
import { KeyRing } from './api/keyring';
import { createRpcHandler } from './api/rpcHandler';
import { createApp } from './app';
import { startAuditLog } from './audit/auditLog';
import { auditHealth } from './audit/auditHealth';
import { purgeAuditor } from './audit/purgeAudit';
import type { Config } from './config/schema';
import { createListener } from './net/listener';
import { startMetricsListener, type MetricsListener } from './net/metricsListener';
import { answerPrimaryWith } from './observability/metrics/cluster';
import { instrumentAudit } from './observability/metrics/auditMetrics';
import { instrumentDaemon } from './observability/metrics/instrument';
import { RequestObservers } from './observability/requestEvents';
import { loadTlsMaterial } from './net/tlsOptions';
import type { Logger } from './observability/logger';
import { oneLine, prepareReload, sharingKeys, type PreparedReload } from './reload/prepare';
import { createOperationRegistry } from './ops';
import { startRedisReplay, type RedisReplay } from './replay/redisReplay';
import type { LoginGate } from './token/loginGate';
import { TokenRegistry } from './token/tokenRegistry';

/** A part that follows reloads (issue 16): the token's PIN retry (issue 12), metrics, …. */
type ReloadHook = (config: Config) => void | Promise<void>;

/** What a reload did: applied (with the settings that still need a restart), or refused with one line. */
export type ReloadOutcome = { ok: true; restartNeeded: string[] } | { ok: false; message: string };

export interface RunningDaemon {
  readonly server: Server;
  readonly port: number;
  readonly host: string;
  readonly tokens: TokenRegistry;
  /**
   * Every finished RPC request is told here (src/observability/requestEvents.ts): metrics subscribe when enabled;
   * the audit log subscribes the same way. Subscribe before requests arrive to see them all.
   */
  readonly requestObservers: RequestObservers;
  /** The port of the metrics listener, when this process serves `/metrics` (single process, metrics enabled). */
  readonly metricsPort: number | undefined;
  /** Requests received and not yet answered. */
  readonly inflight: () => number;
  /**
   * Applies a new validated config without a restart: re-reads the access keys' secrets and the TLS files,
   * swaps keys, rates and the TLS context (new connections get the new certificate; in-flight requests finish
   * under the rules they started with), then runs every {@link onReload} hook in order. If a secret or a TLS
   * file fails, nothing is swapped and the outcome carries the one-line reason.
   */
  reload(config: Config): Promise<ReloadOutcome>;
  /** Hooks run after each applied reload, with the new config; a hook's failure is logged, not fatal. */
  readonly onReload: ReloadHook[];
  /** Graceful stop: refuse new connections, finish in-flight requests (until the deadline), close tokens. */
  stop(): Promise<void>;
}

/** Exit status of the ladder's last rung (EX_SOFTWARE): the supervisor restarts the process. */
const EXIT_TOKEN_FATAL = 70;

/**
 * Starts the daemon: tokens open (login, index, probe), then the HTTP server listens.
 * RPC calls (`/` with GET or POST) go straight to the RPC handler; everything else goes through Express.
 */
export async function startDaemon(
  config: Config,
  log: Logger,
  opts: {
    now?: () => number;
    nonces?: NonceStore;
    /** When the memory replay window started (a cluster worker: the primary's start); default: this process's. */
    windowSince?: number;
    processes?: number;
    loginGate?: LoginGate;
    onFatal?: (reason: string) => void;
    /** A cluster worker: its metrics are answered to the primary, which serves the sum (no listener here). */
    clusterWorker?: boolean;
    /** The cluster worker slot: its audit chain is a file of its own (decision 0026). */
    auditSlot?: number;
    /** The background key purge's period and clock (default: hourly, the real clock); tests shorten and move them. */
    keyPurge?: { everyMs?: number; now?: () => Date };
  } = {},
): Promise<RunningDaemon> {
  // Secrets and TLS files are read before the token opens: a config that cannot serve fails fast.
  const keyring = new KeyRing(config, opts.processes ?? 1);
  const tlsMaterial = config.server.tls ? loadTlsMaterial(config.server.tls) : undefined;
  const replay = config.auth.replay;
  // The process's start, not this call's: whatever a previous process accepted, it accepted before this one
  // existed. (Several daemons in one process, as in tests, are separate windows like separate replicas.)
  const windowSince = opts.windowSince ?? Math.floor(performance.timeOrigin);
  const localNonces =
    opts.nonces || replay.store === 'redis'
      ? undefined
      : new NonceCache({
          ttlMs: config.auth.nonceTtlSeconds * 1000,
          maxEntries: config.auth.nonceMaxEntries,
          sharingKeys: sharingKeys(config),
        });
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
  const requestObservers = new RequestObservers();
  const metricsRegistry = config.metrics.enabled ? new Registry() : undefined;
  if (metricsRegistry) {
    // Before the tokens open: their first calls (login, index read) are counted too.
    instrumentDaemon(
      metricsRegistry,
      tokens.tokens,
      requestObservers,
      localNonces ? () => localNonces.size : undefined,
    );
    if (opts.clusterWorker) answerPrimaryWith(metricsRegistry);
  }
  // A token whose PIN is refused does not fail the start: it waits, unavailable, for the operator's reload.
  await tokens.open({ tolerateUnavailable: true });
  // With Redis, this process (a daemon or one cluster worker) claims nonces there itself, shares the keys' rates
  // and lifecycle changes with the other replicas (docs/decisions/0024-replay-store.md).
  const redis: RedisReplay | undefined = replay.store === 'redis' ? startRedisReplay(config, log, tokens) : undefined;
  const audit = await startAuditLog(config, tokens, log, opts.auditSlot === undefined ? {} : { slot: opts.auditSlot });
  const auditRequired = config.audit?.required ?? false;
  if (metricsRegistry && audit) instrumentAudit(metricsRegistry, () => auditHealth(audit.chain, auditRequired));
  // The process that purges audits it, in its own chain (decision 0030).
  const stopKeyPurge = startKeyPurge(tokens, log, {
    ...opts.keyPurge,
    ...(audit ? { onPurged: purgeAuditor(audit.chain) } : {}),
  });
  let shuttingDown = false;
  const rpc = createRpcHandler({
    config,
    tokens,
    operations: createOperationRegistry(),
    keyring,
    nonces: redis?.nonces ?? opts.nonces ?? (localNonces as NonceCache),
    // The memory window forgets what the previous process accepted: refuse what was signed before it started.
    ...(redis === undefined && replay.refuseSignedBeforeStart ? { notBefore: windowSince } : {}),
    log,
    observers: requestObservers,
    ...(opts.now ? { now: opts.now } : {}),
    ...(audit ? { observer: audit.observer } : {}),
  });
  const app = createApp({
    tokens,
    rpc,
    isShuttingDown: () => shuttingDown,
    tls: tlsMaterial !== undefined,
    ...(redis ? { replayStore: () => redis.health() } : {}),
    ...(audit ? { audit: () => auditHealth(audit.chain, auditRequired) } : {}),
  });
  const isRpc = (req: IncomingMessage): boolean =>
    (req.method === 'POST' || req.method === 'GET') &&
    req.url !== undefined &&
    (req.url === '/' || req.url.startsWith('/?'));
  let inflight = 0;
  let idle: (() => void) | undefined;
  const server = createListener(config, tlsMaterial, (req: IncomingMessage, res: ServerResponse) => {
    inflight++;
    res.once('close', () => {
      inflight--;
      if (inflight === 0 && idle) idle();
    });
    if (isRpc(req)) rpc(req, res);
    else app(req, res);
  });
  // A fresh request signed in the window's first second carries that second (timestamps are whole seconds) and
  // would be refused as older than the window: listen once that second is over (token opening mostly covers it).
  const firstSecondLeft = Math.floor(windowSince / 1000) * 1000 + 1000 - Date.now();
  if (redis === undefined && replay.refuseSignedBeforeStart && firstSecondLeft > 0) {
    await new Promise((r) => setTimeout(r, firstSecondLeft));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let metricsListener: MetricsListener | undefined;
  if (metricsRegistry && !opts.clusterWorker) {
    try {
      metricsListener = await startMetricsListener(config.metrics, () => metricsRegistry.metrics(), log);
    } catch (e) {
      server.close();
      await tokens.close();
      throw new Error(`metrics listener on ${config.metrics.host}:${config.metrics.port}: ${(e as Error).message}`);
    }
  }
  log.info(
    {
      host: address.address,
      port: address.port,
      tls: tlsMaterial !== undefined,
      tokens: tokens.tokens.map((t) => t.config.name),
    },
    'listening',
  );

  let running = config;
  const onReload: ReloadHook[] = [];
  let reloading: Promise<ReloadOutcome> = Promise.resolve({ ok: true, restartNeeded: [] });
  const reload = (next: Config): Promise<ReloadOutcome> => {
    // One reload at a time, in the order asked: two quick SIGHUPs must not interleave their swaps.
    reloading = reloading.then(async (): Promise<ReloadOutcome> => {
      let prepared: PreparedReload;
      try {
        prepared = prepareReload(running, next);
      } catch (e) {
        const message = oneLine(e);
        log.error({ reason: message }, 'reload refused; the running configuration is kept');
        audit?.reloaded({ ok: false, message });
        return { ok: false, message };
      }
      keyring.replace(prepared.config, prepared.keys);
      localNonces?.setSharingKeys(sharingKeys(prepared.config));
      if (prepared.tls && tlsMaterial) {
        // New connections get the new certificate; open ones keep the one they shook hands with.
        (server as unknown as TlsServer).setSecureContext(prepared.tls.context);
      }
      running = prepared.config;
      for (const hook of onReload) {
        try {
          await hook(prepared.config);
        } catch (e) {
          log.error({ err: oneLine(e) }, 'a reload hook failed');
        }
      }
      audit?.reloaded({ ok: true, restartNeeded: prepared.restartNeeded }, prepared.config);
      if (prepared.restartNeeded.length > 0)
        log.warn({ settings: prepared.restartNeeded }, 'reloaded; these changed settings take effect after a restart');
      else log.info({ accessKeys: prepared.keys.size }, 'reloaded');
      return { ok: true, restartNeeded: prepared.restartNeeded };
    });
    return reloading;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      shuttingDown = true;
      stopKeyPurge();
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
      await metricsListener?.close();
      // The last checkpoint is signed while the token is still open.
      await audit?.close(deadline);
      await tokens.close(deadline);
      await redis?.close();
      log.info('stopped');
    })();
    return stopping;
  };
  fatal.stop = stop;
  // Reload (SIGHUP): tokens re-read their PIN; one that a refused PIN kept unavailable tries the new value once.
  onReload.push(() => tokens.reload());
  if (redis) onReload.push((next) => redis.reload(next));
  return {
    server,
    port: address.port,
    host: config.server.host,
    tokens,
    requestObservers,
    metricsPort: metricsListener?.port,
    inflight: () => inflight,
    reload,
    onReload,
    stop,
  };
}
