import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { TokenRegistry } from '../token/tokenRegistry';
import { IndexEvents } from './indexEvents';
import { RedisLink, type StoreHealth } from './redisLink';
import { RedisNonceStore } from './redisNonceStore';

/** What a serving process shares with the other replicas through Redis. */
export interface RedisReplay {
  readonly nonces: RedisNonceStore;
  /** The store's state for /readyz. */
  health(): StoreHealth;
  /** Applies a reloaded config (the keys' shared rates). */
  reload(config: Config): void;
  close(): Promise<void>;
}

/**
 * Connects this serving process (a daemon, or one cluster worker: each claims directly, not through the primary)
 * to Redis: the replay window and rates, and lifecycle changes both ways (this process's changes are published;
 * the others' make it re-read that identity at once).
 */
export function startRedisReplay(config: Config, log: Logger, tokens: TokenRegistry): RedisReplay {
  const link = new RedisLink(config.auth.replay, log);
  const nonces = new RedisNonceStore(link, config);
  const events = new IndexEvents(link, log, (token, id) => {
    tokens.tokens.find((t) => t.config.name === token)?.syncIndex(id);
  });
  for (const token of tokens.tokens) token.onIndexChanged = (id) => events.publish(token.config.name, id);
  return {
    nonces,
    health: () => link.health(),
    reload: (next) => nonces.setRates(next),
    close: async () => {
      events.close();
      await link.close();
    },
  };
}
