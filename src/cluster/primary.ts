import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { NonceCache } from '../api/auth/replayCache';
import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import { oneLine, prepareReload, sharingKeys } from '../reload/prepare';
import type { ReloadOutcome } from '../server';
import { trackHandoffs } from './handoffs';
import { LoginAuthority } from './loginAuthority';
import {
  isHeartbeat,
  isLoginAsk,
  isLoginOutcome,
  isNonceClaims,
  isReindex,
  isReloaded,
  isWorkerState,
  type ReloadMessage,
  type ReloadedMessage,
} from './messages';
import { answerNonceClaims } from './nonceAuthority';
import { threadpoolSize } from './workers';

/** The environment variable that carries the validated config to the workers (secret references only, no values). */
export const WORKER_CONFIG_ENV = 'P11BRIDGE_WORKER_CONFIG';
/** When the primary's replay window started (ms): a restarted worker keeps the window, so not its own start. */
export const WINDOW_SINCE_ENV = 'P11BRIDGE_WINDOW_SINCE';

/** A worker that dies sooner than this after its start is restarted after a growing pause (a crash loop). */
const HEALTHY_AFTER_MS = 10_000;
const RESTART_DELAY_MIN_MS = 500;
const RESTART_DELAY_MAX_MS = 30_000;
/** Time given to workers past `shutdownTimeoutMs` (closing the token) before they are killed. */
const STOP_GRACE_MS = 5_000;
/** Longest wait for every worker to confirm a reload. */
const RELOAD_TIMEOUT_MS = 10_000;

export interface ClusterOptions {
  readonly workers: number;
  /** Node options of the worker processes (default: the primary's). */
  readonly execArgv?: readonly string[];
}

export interface RunningCluster {
  readonly host: string;
  readonly port: number;
  /** The live worker processes. */
  workers(): Worker[];
  /**
   * Reload (issue 16): checks the new config here (secrets, TLS files), then has every worker apply it and
   * waits for their answers. A config that fails the check reaches no worker; a restarted worker starts with
   * the last applied config.
   */
  reload(config: Config): Promise<ReloadOutcome>;
  /** Graceful stop: every worker finishes its in-flight requests and closes its token, then exits. */
  stop(): Promise<void>;
  /** Resolves with a non-zero status when the primary gives up (no worker could serve for `noServeExitMs`). */
  readonly failed: Promise<number>;
}

/** Exit status of a primary none of whose workers could serve (EX_UNAVAILABLE). */
const EXIT_NO_WORKER = 69;

/**
 * Starts `workers` serving processes on one port (node:cluster: the primary accepts, the workers serve). Each
 * worker opens its own PKCS#11 module, login and session pool; the primary never touches the token. It holds
 * the replay window the workers share (src/cluster/sharedNonceStore.ts) and the login gate (a refused PIN is never
 * tried again by any worker), and supervises: a worker that dies, or whose event loop stops sending its heartbeat,
 * is replaced with backoff for as long as the primary lives; when no worker has been able to serve for
 * `supervision.noServeExitMs`, `failed` resolves with a non-zero status for the caller to exit with. Resolves once
 * every worker listens; rejects (after stopping the others) with the first worker's start error, such as a token
 * without enough sessions.
 */
export async function startCluster(config: Config, log: Logger, opts: ClusterOptions): Promise<RunningCluster> {
  const nonces = new NonceCache({
    ttlMs: config.auth.nonceTtlSeconds * 1000,
    maxEntries: config.auth.nonceMaxEntries,
    sharingKeys: sharingKeys(config),
  });
  cluster.setupPrimary({
    exec: join(__dirname, 'workerMain.js'),
    args: [],
    execArgv: [...(opts.execArgv ?? process.execArgv)],
  });
  let running = config;
  const env = {
    [WORKER_CONFIG_ENV]: JSON.stringify(config),
    UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? String(threadpoolSize(config)),
    [WINDOW_SINCE_ENV]: String(Math.floor(performance.timeOrigin)),
  };
  const live = new Set<Worker>();
  const listening = new Set<Worker>();
  const lastBeat = new Map<Worker, number>();
  const logins = new LoginAuthority();
  const supervision = config.server.supervision;
  let stopping = false;
  let started = false;
  let port = config.server.port;
  let restartDelay = RESTART_DELAY_MIN_MS;
  let lastServing = Date.now();
  let giveUp!: (code: number) => void;
  const failed = new Promise<number>((resolve) => (giveUp = resolve));

  const pendingRestarts = new Set<NodeJS.Timeout>();
  const restart = (slot: number, why: string): void => {
    if (stopping) return;
    log.error({ slot, restartInMs: restartDelay, why }, 'worker exited; restarting');
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, RESTART_DELAY_MAX_MS);
    // Ref'd: with every worker gone, a pending restart is what keeps the primary alive to replace them.
    const timer = setTimeout(() => {
      pendingRestarts.delete(timer);
      if (stopping) return;
      // A restart that fails is retried, with a growing pause, for as long as the primary lives.
      spawn(slot).catch((e: unknown) => {
        log.error({ slot, err: (e as Error).message }, 'worker restart failed');
        restart(slot, 'restart failed');
      });
    }, delay);
    pendingRestarts.add(timer);
  };

  const spawn = (slot: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const startedAt = Date.now();
      let isListening = false;
      const worker = cluster.fork({ ...env, P11BRIDGE_WORKER_SLOT: String(slot) });
      live.add(worker);
      const handoffs = trackHandoffs(worker);
      worker.on('message', (m: unknown) => {
        if (isNonceClaims(m)) {
          worker.send(answerNonceClaims(nonces, m));
        } else if (isHeartbeat(m)) {
          lastBeat.set(worker, Date.now());
        } else if (isLoginAsk(m)) {
          logins.ask(worker, m);
        } else if (isLoginOutcome(m)) {
          logins.outcome(m);
        } else if (isReloaded(m)) {
          reloadAnswers.get(m.id)?.(m);
        } else if (isReindex(m)) {
          for (const other of live) if (other !== worker && other.isConnected()) other.send(m);
        } else if (isWorkerState(m)) {
          if (m.p11bridge === 'listening') {
            isListening = true;
            listening.add(worker);
            lastBeat.set(worker, Date.now());
            if (typeof m.port === 'number') port = m.port;
            resolve();
          } else {
            reject(new Error(m.message ?? 'a worker could not start'));
          }
        }
      });
      worker.on('error', (e) => log.warn({ worker: worker.process.pid, err: e.message }, 'worker channel error'));
      worker.once('exit', (code, signal) => {
        const closed = handoffs.closeUnacknowledged();
        if (closed > 0)
          log.warn({ worker: worker.process.pid, connections: closed }, 'closed connections handed to a dead worker');
        live.delete(worker);
        listening.delete(worker);
        lastBeat.delete(worker);
        logins.workerGone(worker);
        if (!isListening) {
          reject(new Error(`a worker exited while starting (code ${code ?? '-'}, signal ${signal ?? '-'})`));
          return;
        }
        if (stopping) return;
        // Requests the worker had accepted are lost with it; its connections' clients see a reset and retry.
        if (Date.now() - startedAt >= HEALTHY_AFTER_MS) restartDelay = RESTART_DELAY_MIN_MS;
        restart(slot, `exited (code ${code ?? '-'}, signal ${signal ?? '-'})`);
      });
    });

  // Supervision: a worker whose event loop is stuck stops beating and is killed (then replaced by its exit
  // handler); a primary none of whose workers has served for `noServeExitMs` gives up, for its own supervisor.
  const watch = setInterval(() => {
    if (stopping || !started) return;
    const now = Date.now();
    for (const [worker, at] of lastBeat) {
      if (now - at <= supervision.heartbeatTimeoutMs || worker.isDead()) continue;
      log.error({ worker: worker.process.pid, silentMs: now - at }, 'worker event loop stuck: killing it');
      lastBeat.delete(worker);
      worker.process.kill('SIGKILL');
    }
    if (listening.size > 0) lastServing = now;
    else if (now - lastServing > supervision.noServeExitMs) {
      log.fatal({ forMs: now - lastServing }, 'no worker could serve: the primary gives up');
      giveUp(EXIT_NO_WORKER);
    }
  }, 500);
  watch.unref();

  let nextReloadId = 1;
  const reloadAnswers = new Map<number, (m: ReloadedMessage) => void>();
  const askWorker = (w: Worker, message: ReloadMessage): Promise<ReloadedMessage> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        reloadAnswers.delete(message.id);
        resolve({ p11bridge: 'reloaded', id: message.id, ok: false, message: 'a worker did not answer the reload' });
      }, RELOAD_TIMEOUT_MS);
      reloadAnswers.set(message.id, (m) => {
        clearTimeout(timer);
        reloadAnswers.delete(message.id);
        resolve(m);
      });
      w.send(message);
    });
  let reloading: Promise<ReloadOutcome> = Promise.resolve({ ok: true, restartNeeded: [] });
  const reload = (next: Config): Promise<ReloadOutcome> => {
    reloading = reloading.then(async (): Promise<ReloadOutcome> => {
      let restartNeeded: string[];
      try {
        restartNeeded = prepareReload(running, next).restartNeeded;
      } catch (e) {
        const message = oneLine(e);
        log.error({ reason: message }, 'reload refused; the running configuration is kept');
        return { ok: false, message };
      }
      // Workers started from now on get the new config; the running ones are told.
      running = next;
      env[WORKER_CONFIG_ENV] = JSON.stringify(next);
      nonces.setSharingKeys(sharingKeys(next));
      const answers = await Promise.all(
        [...live]
          .filter((w) => w.isConnected())
          .map((w) => askWorker(w, { p11bridge: 'reload', id: nextReloadId++, config: next })),
      );
      const failed = answers.find((a) => !a.ok);
      if (failed) {
        log.error({ reason: failed.message }, 'a worker refused the reload');
        return { ok: false, message: failed.message ?? 'a worker refused the reload' };
      }
      log.info({ workers: answers.length, restartNeeded }, 'cluster reloaded');
      return { ok: true, restartNeeded };
    });
    return reloading;
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    clearInterval(watch);
    for (const t of pendingRestarts) clearTimeout(t);
    pendingRestarts.clear();
    const exits = [...live].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          const kill = setTimeout(() => w.process.kill('SIGKILL'), config.server.shutdownTimeoutMs + STOP_GRACE_MS);
          w.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          w.process.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  };

  try {
    await Promise.all(Array.from({ length: opts.workers }, (_, slot) => spawn(slot)));
  } catch (e) {
    await stopAll();
    throw e;
  }
  started = true;
  lastServing = Date.now();
  log.info({ workers: opts.workers, host: config.server.host, port }, 'cluster listening');
  let stopped: Promise<void> | undefined;
  return {
    host: config.server.host,
    port,
    workers: () => [...live],
    reload,
    stop: () => {
      stopped ??= stopAll().then(() => log.info('cluster stopped'));
      return stopped;
    },
    failed,
  };
}
