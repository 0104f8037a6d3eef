import type { Logger } from '../../observability/logger';
import type { TokenRegistry } from '../../token/tokenRegistry';
import { purgeExpiredKeys } from './lifecycle';

/** How often the daemon destroys the objects of keys whose deletion window ended (decision 0015). */
const KEY_PURGE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Starts the periodic purge of expired KMS keys on every ready token; returns the function that stops it. A key past
 * its deletion date is already gone for callers (resolve.ts), so the sweep's timing only bounds how long its
 * objects stay on the token. A failed sweep is logged and retried at the next tick (in cluster mode several workers
 * may sweep at once: a loser's destroy fails on a vanished handle and the next tick finds nothing to do).
 */
export function startKeyPurge(
  tokens: TokenRegistry,
  log: Logger,
  opts: {
    everyMs?: number;
    /** The clock the deletion dates are compared with (tests move it past a key's window). */
    now?: () => Date;
    /** Told of every key purged or failed, with its token (the audit log, decision 0030). */
    onPurged?: (e: { token: string; keyId: string; versions: string[]; error?: Error }) => void;
  } = {},
): () => void {
  const onPurged = opts.onPurged;
  const sweep = async (): Promise<void> => {
    for (const token of tokens.tokens) {
      try {
        const purged = await purgeExpiredKeys(
          token,
          opts.now?.() ?? new Date(),
          onPurged && ((k) => onPurged({ token: token.name, ...k })),
        );
        if (purged.length > 0)
          log.info({ token: token.name, keyIds: purged }, 'KMS keys past their deletion date destroyed');
      } catch (e) {
        log.warn({ token: token.name, err: e instanceof Error ? e.message : String(e) }, 'KMS key purge failed');
      }
    }
  };
  const timer = setInterval(() => void sweep(), opts.everyMs ?? KEY_PURGE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
