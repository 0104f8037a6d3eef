import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema';

/** `auto` stops here: past four processes the token, not the HTTP path, is the limit (facts §5), and HSMs cap sessions. */
export const AUTO_WORKERS_MAX = 4;

/** The number of worker processes the config asks for (`auto`: one per core, at most {@link AUTO_WORKERS_MAX}). */
export function resolveWorkers(config: Config, cores: number = availableParallelism()): number {
  const w = config.server.workers;
  return w === 'auto' ? Math.max(1, Math.min(cores, AUTO_WORKERS_MAX)) : w;
}

/**
 * libuv threadpool size for one serving process: each *Async PKCS#11 call holds a pool thread, and more threads
 * than sessions only add contention (facts §5).
 */
export function threadpoolSize(config: Config): number {
  const sessions = config.tokens.reduce((n, t) => n + t.sessions.size, 0);
  return Math.max(2, Math.min(sessions, 64));
}
