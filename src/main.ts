/**
 * The process entry (package.json "main", bin/p11bridge.js, `npm start`; docs/decisions/0018-process-entry.md).
 * The command line (src/cli/) decides what to do; a serving command hands back its config, and this file runs the
 * daemon: config → token → app → listen (src/server.ts, or a node:cluster primary) → signals → ordered shutdown.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { runCommand, type ServeRequest } from './cli/index';
import { startCluster } from './cluster/primary';
import { resolveWorkers, threadpoolSize } from './cluster/workers';
import type { Config } from './config/schema';
import { createLogger } from './observability/logger';
import { oneLine } from './reload/prepare';
import { startDaemon } from './server';

/**
 * Serves until SIGTERM/SIGINT, then stops gracefully: in this process when the config asks for one worker,
 * otherwise as a node:cluster primary with `server.workers` serving processes (src/cluster/primary.ts).
 * SIGHUP reloads: `reread()` reads the config file again (with the command line's overrides) and the daemon or
 * every worker applies it; a config that does not validate is refused with one error line, the running one kept.
 */
async function serveUntilStopped({ config, reread, onListening }: ServeRequest): Promise<number> {
  // Sized before anything uses the threadpool (a worker inherits the same rule through its environment).
  process.env.UV_THREADPOOL_SIZE ??= String(threadpoolSize(config));
  const log = createLogger(config.logging.level, undefined, config.logging.format);
  const workers = resolveWorkers(config);
  const daemon = workers > 1 ? await startCluster(config, log, { workers }) : await startDaemon(config, log);
  onListening?.(daemon.host, daemon.port);
  let exitCode = 0;
  const pidFile = config.server.pidFile;
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  const onHangup = (): void => {
    let next: Config;
    try {
      next = reread();
    } catch (e) {
      log.error({ reason: oneLine(e) }, 'reload refused; the running configuration is kept');
      return;
    }
    daemon.reload(next).catch((e: unknown) => log.error({ reason: oneLine(e) }, 'reload failed'));
  };
  process.on('SIGHUP', onHangup);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      daemon.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    if ('failed' in daemon) {
      void daemon.failed.then((code) => {
        exitCode = code;
        daemon.stop().then(resolve, resolve);
      });
    }
  });
  process.off('SIGHUP', onHangup);
  if (pidFile) rmSync(pidFile, { force: true });
  log.flush();
  return exitCode;
}

/** Runs one command; a serving command's daemon runs here until a signal (or a fatal token error) stops it. */
async function main(argv: string[]): Promise<number> {
  const outcome = await runCommand(argv);
  return typeof outcome === 'number' ? outcome : serveUntilStopped(outcome);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Operator-facing: the message, not a stack (config and token errors name what to fix).
    console.error(`p11bridge: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
