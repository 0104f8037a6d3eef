import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ReplayConfig } from '../config/schema';
import { resolveSecret } from '../config/secret';
import type { Logger } from '../observability/logger';
import { parseRedisUrl } from './redisAddress';

/** What /readyz says about the replay store. */
export interface StoreHealth {
  readonly ready: boolean;
  readonly reason?: string;
  /** When the state last changed, ms since the epoch. */
  readonly since: number;
}

/** Longest pause between two reconnection attempts: serving resumes within about this after Redis returns. */
const RECONNECT_MAX_MS = 400;
/** While Redis is connected but too slow, it is probed this often; the first answer in time restores service. */
const PROBE_INTERVAL_MS = 250;

/**
 * The connection to Redis, kept fail-closed (docs/decisions/0024-replay-store.md): no offline queue (a command
 * while disconnected fails at once), a short command timeout (`redisTimeoutMs`), reconnection every ≤ 400 ms
 * for as long as the process lives. A command that timed out marks the link slow: until a probe answers in time,
 * claims fail at once instead of each waiting for its own timeout. Commands are pipelined on the connection as
 * they come (ioredis never waits for a reply before sending the next), so a request costs one round trip.
 */
export class RedisLink {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly #log: Logger;
  readonly #config: ReplayConfig;
  #health: StoreHealth = { ready: false, reason: 'connecting to Redis', since: Date.now() };
  #slow = false;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(config: ReplayConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.prefix = config.redisKeyPrefix;
    this.client = connect(config);
    this.client.on('ready', () => {
      if (!this.#slow) this.#set({ ready: true, since: Date.now() });
    });
    this.client.on('error', (e: Error) => this.#down(`Redis: ${e.message}`));
    this.client.on('close', () => this.#down('the connection to Redis closed'));
    this.client.on('reconnecting', () => this.#down(this.#health.reason ?? 'reconnecting to Redis'));
  }

  /** The replay store's state for /readyz. */
  health(): StoreHealth {
    return this.#health;
  }

  /** Whether a command may be sent now: connected and not known to be slow. */
  usable(): boolean {
    return this.#health.ready && this.client.status === 'ready';
  }

  /** A command failed: a timeout marks the link slow (probed until it answers in time); others only log. */
  failed(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (/timed out/i.test(message)) {
      this.#slow = true;
      this.#down(`Redis did not answer within ${this.#config.redisTimeoutMs} ms`);
      this.#startProbe();
    }
  }

  /** A second connection for pub/sub (a subscribed connection can run no other command). */
  subscriber(): Redis | Cluster {
    // Queued while (re)connecting: a subscription must wait for the connection, unlike a claim.
    const sub = connect(this.#config, { enableOfflineQueue: true });
    sub.on('error', () => undefined); // reported by the main connection's health
    return sub;
  }

  /** Closes the connection (at shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#probe) clearInterval(this.#probe);
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  #startProbe(): void {
    if (this.#probe || this.#closed) return;
    this.#probe = setInterval(() => {
      if (this.client.status !== 'ready') return;
      this.client.ping().then(
        () => {
          this.#slow = false;
          if (this.#probe) clearInterval(this.#probe);
          this.#probe = undefined;
          this.#set({ ready: true, since: Date.now() });
        },
        () => undefined,
      );
    }, PROBE_INTERVAL_MS);
    this.#probe.unref();
  }

  #down(reason: string): void {
    if (this.#closed) return;
    if (this.#health.ready || this.#health.reason !== reason) this.#set({ ready: false, reason, since: Date.now() });
  }

  #set(next: StoreHealth): void {
    const was = this.#health;
    this.#health = next;
    if (was.ready && !next.ready)
      this.#log.error({ reason: next.reason }, 'replay store unavailable: refusing requests');
    else if (!was.ready && next.ready) this.#log.info({ downMs: next.since - was.since }, 'replay store available');
  }
}

function connect(config: ReplayConfig, overrides: RedisOptions = {}): Redis | Cluster {
  const address = parseRedisUrl(config.redisUrl ?? '');
  const password = config.redisPassword ? resolveSecret(config.redisPassword).reveal() : address.password;
  const common: RedisOptions = {
    // Fail closed, at once: nothing waits for a connection that may never come.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.redisTimeoutMs,
    connectTimeout: Math.max(1000, config.redisTimeoutMs),
    // ioredis's auto-pipelining (one write per event-loop turn) cost 20 µs more CPU per claim at one request per
    // turn and saved about 1 µs at eight (npm run bench:replay): the plain connection pipelines already.
    enableAutoPipelining: false,
    retryStrategy: (times: number) => Math.min(50 * times, RECONNECT_MAX_MS),
    db: address.db,
    ...(address.username === undefined ? {} : { username: address.username }),
    ...(password === undefined ? {} : { password }),
    ...(address.tls ? { tls: {} } : {}),
    ...overrides,
  };
  const first = address.nodes[0] ?? { host: '127.0.0.1', port: 6379 };
  if (config.redisMode === 'cluster') {
    return new Cluster(address.nodes, {
      redisOptions: common,
      enableOfflineQueue: common.enableOfflineQueue ?? false,
      clusterRetryStrategy: (times: number) => Math.min(50 * times, RECONNECT_MAX_MS),
    });
  }
  if (config.redisMode === 'sentinel') {
    return new Redis({
      ...common,
      sentinels: address.nodes,
      name: config.redisSentinelName ?? '',
      sentinelRetryStrategy: (times: number) => Math.min(50 * times, RECONNECT_MAX_MS),
    });
  }
  return new Redis({ ...common, host: first.host, port: first.port });
}
