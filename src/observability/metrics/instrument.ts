import type { Registry } from 'prom-client';
import type { RequestObservers } from '../requestEvents';
import type { TokenEvents } from '../tokenEvents';
import { defineMetrics, type TokenGaugeSource } from './definitions';
import { requestMetrics } from './requestObserver';
import { tokenMetrics } from './tokenObserver';

/** What the metrics need of a token (src/token/tokenManager.ts has it; described here, the ground floor). */
export interface ObservedToken {
  readonly name: string;
  readonly state: string;
  readonly poolStats: { inUse: number; waiting: number; live: number; quarantined: number };
  readonly events: TokenEvents;
  readonly healthTracker: { report(): { status: string } };
}

/**
 * Registers the daemon's metrics on `registry` and subscribes them: to finished requests, and to every token's
 * events (before the tokens open, so that their first calls are counted). `replayEntries` when this process holds
 * the replay window.
 */
export function instrumentDaemon(
  registry: Registry,
  tokens: readonly ObservedToken[],
  observers: RequestObservers,
  replayEntries?: () => number,
): void {
  const m = defineMetrics(registry, {
    tokens: () => tokens.map(gaugeSource),
    ...(replayEntries ? { replayEntries } : {}),
  });
  observers.subscribe(requestMetrics(m));
  const listener = tokenMetrics(m);
  for (const t of tokens) t.events.subscribe(listener);
}

function gaugeSource(t: ObservedToken): TokenGaugeSource {
  const p = t.poolStats;
  return {
    name: t.name,
    state: t.state,
    health: t.healthTracker.report().status,
    inUse: p.inUse,
    // A quarantined session keeps its place among the live ones until its late call returns.
    idle: Math.max(0, p.live - p.inUse - p.quarantined),
    waiting: p.waiting,
    quarantined: p.quarantined,
  };
}
