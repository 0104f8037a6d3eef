/**
 * Entry point of a cluster worker (forked by src/cluster/primary.ts): the daemon of `startDaemon`, with the
 * replay window delegated to the primary. It serves until SIGTERM/SIGINT or until the primary goes away, then
 * stops gracefully (in-flight requests finish, the token is closed) and exits.
 */
import { validateConfig } from '../config/load';
import { createLogger } from '../observability/logger';
import { startDaemon } from '../server';
import { oneLine } from '../reload/prepare';
import { ClusterLoginGate } from './clusterLoginGate';
import { isLoginAnswer, isNonceResults, isReindex, isReload, type WorkerMessage } from './messages';
import { resolveWorkers } from './workers';
import { WINDOW_SINCE_ENV, WORKER_CONFIG_ENV } from './primary';
import { SharedNonceStore } from './sharedNonceStore';

function send(message: WorkerMessage): void {
  if (!process.send) throw new Error('workerMain must run as a cluster worker');
  process.send(message);
}

async function main(): Promise<void> {
  const raw = process.env[WORKER_CONFIG_ENV];
  if (!raw) throw new Error(`${WORKER_CONFIG_ENV} is not set: workerMain runs only under the cluster primary`);
  // Environment overrides were applied by the primary; validating again keeps the worker's types honest.
  const config = validateConfig(JSON.parse(raw) as unknown, {});
  const log = createLogger(config.logging.level);
  const nonces = new SharedNonceStore(send);
  const loginGate = new ClusterLoginGate(send);
  // Answers from the primary arrive before the daemon exists (the login gate is asked while tokens open).
  const started: { daemon?: Awaited<ReturnType<typeof startDaemon>> } = {};
  process.on('message', (m: unknown) => {
    if (isNonceResults(m)) nonces.receive(m);
    else if (isLoginAnswer(m)) loginGate.receive(m);
    else if (isReindex(m)) started.daemon?.tokens.tokens.find((t) => t.config.name === m.token)?.syncIndex(m.id);
    else if (isReload(m)) {
      const daemon = started.daemon;
      if (!daemon) {
        send({ p11bridge: 'reloaded', id: m.id, ok: false, message: 'the worker is still starting' });
        return;
      }
      // The primary validated it; validating again keeps the types honest and costs nothing.
      let next;
      try {
        next = validateConfig(m.config, {});
      } catch (e) {
        send({ p11bridge: 'reloaded', id: m.id, ok: false, message: oneLine(e) });
        return;
      }
      daemon.reload(next).then(
        (r) => send({ p11bridge: 'reloaded', id: m.id, ok: r.ok, ...(r.ok ? {} : { message: r.message }) }),
        (e: unknown) => send({ p11bridge: 'reloaded', id: m.id, ok: false, message: oneLine(e) }),
      );
    }
  });
  // Rates are split among the workers: connections are spread evenly over them.
  // With Redis the worker claims nonces there itself (no IPC) and lifecycle changes travel by Redis pub/sub.
  const redis = config.auth.replay.store === 'redis';
  const windowSince = Number(process.env[WINDOW_SINCE_ENV]);
  const running = await startDaemon(config, log, {
    ...(redis ? {} : { nonces }),
    ...(Number.isFinite(windowSince) && windowSince > 0 ? { windowSince } : {}),
    loginGate,
    processes: resolveWorkers(config),
  });
  started.daemon = running;
  // Lifecycle changes made here reach the sibling workers at once (they re-read that token's index).
  for (const token of running.tokens.tokens) {
    if (redis) continue;
    token.onIndexChanged = (id) =>
      send({ p11bridge: 'reindex', token: token.config.name, ...(id === undefined ? {} : { id }) });
  }
  // The heartbeat comes from this event loop: a worker stuck in synchronous work stops sending it and is replaced.
  const heartbeat = setInterval(() => send({ p11bridge: 'heartbeat', serving: running.tokens.isReady() }), 1000);
  heartbeat.unref();
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason: why }, 'worker shutting down');
    clearInterval(heartbeat);
    running
      .stop()
      .catch((e: unknown) => log.error({ err: (e as Error).message }, 'worker stop failed'))
      .finally(() => {
        nonces.close();
        log.flush();
        process.disconnect?.();
        process.exit(0);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  // A SIGHUP sent to the whole process group (a closed terminal, `kill -HUP -pgid`) must not kill a worker: the
  // primary coordinates reloads and tells every worker itself.
  process.on('SIGHUP', () => log.info('SIGHUP ignored by a worker: the primary coordinates reloads'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('disconnect', () => stop('primary gone'));
  send({ p11bridge: 'listening', port: running.port });
}

main().catch((e: unknown) => {
  // The primary prints this and stops: a worker that cannot open its token is an operator error to report.
  const message = e instanceof Error ? e.message : String(e);
  try {
    send({ p11bridge: 'failed', message });
  } finally {
    setTimeout(() => process.exit(1), 100);
  }
});
