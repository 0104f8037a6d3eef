import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger';
import type { RedisLink } from './redisLink';

/** A lifecycle change on a token (a certificate or key created, re-statused, deleted) made by some replica. */
interface IndexChange {
  origin: string;
  token: string;
  id?: string;
}

/**
 * Lifecycle changes between replicas (issue 17): a change made by one replica (or one of its workers) is published
 * on Redis, and every other process re-reads that identity at once, as sibling workers do for the cluster
 * primary's `reindex` message, instead of after `indexRefreshMs`. Pub/sub is at-most-once: a message lost while
 * a replica was disconnected is caught up by that replica's periodic index refresh.
 */
export class IndexEvents {
  readonly #origin = randomUUID();
  readonly #channel: string;
  readonly #link: RedisLink;
  readonly #log: Logger;
  readonly #sub;

  /** Subscribes; `onChange` runs for each change published by another process. */
  constructor(link: RedisLink, log: Logger, onChange: (token: string, id: string | undefined) => void) {
    this.#link = link;
    this.#log = log;
    this.#channel = `${link.prefix}reindex`;
    this.#sub = link.subscriber();
    this.#sub.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel) return;
      const change = parse(text);
      if (change && change.origin !== this.#origin) onChange(change.token, change.id);
    });
    // ioredis re-subscribes by itself after a reconnection.
    this.#sub.subscribe(this.#channel).catch((e: unknown) => {
      this.#log.warn(
        { err: (e as Error).message },
        'could not subscribe to lifecycle changes; the index refresh catches up',
      );
    });
  }

  /** Tells the other processes that `token` changed (`id`: the identity, when one did). */
  publish(token: string, id: string | undefined): void {
    const change: IndexChange = { origin: this.#origin, token, ...(id === undefined ? {} : { id }) };
    this.#link.client.publish(this.#channel, JSON.stringify(change)).catch((e: unknown) => {
      this.#log.warn(
        { err: (e as Error).message },
        'could not publish a lifecycle change; the others catch up on their index refresh',
      );
    });
  }

  /** Unsubscribes (at shutdown). */
  close(): void {
    this.#sub.disconnect();
  }
}

function parse(text: string): IndexChange | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.origin !== 'string' || typeof o.token !== 'string') return undefined;
    return { origin: o.origin, token: o.token, ...(typeof o.id === 'string' ? { id: o.id } : {}) };
  } catch {
    return undefined;
  }
}
