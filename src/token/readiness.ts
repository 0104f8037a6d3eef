import type { HealthStatus } from './health';
import type { TokenRegistry } from './tokenRegistry';

/** One token in the /readyz answer. */
interface TokenReadiness {
  readonly warehouseId: number;
  readonly name: string;
  /** ACTIVE, DEGRADED (serving, with recent errors or slow calls) or UNAVAILABLE. */
  readonly health: HealthStatus;
  /** Why it is not ACTIVE: the token's own reason when UNAVAILABLE, the last error or slow call when DEGRADED. */
  readonly reason?: string;
  /** The token layer's state (ready, recovering, unavailable, …) and since when. */
  readonly state: string;
  readonly since: string;
  /** True when it serves (ACTIVE or DEGRADED). */
  readonly ready: boolean;
  readonly recentErrors: number;
  readonly recentSlowCalls: number;
}

/**
 * The /readyz answer, from what the token layer keeps in memory (never a token call): ready (HTTP 200) while at least
 * one token serves, ACTIVE or DEGRADED (docs/decisions/0025-metrics-and-health.md: a degraded token still signs);
 * 503 when none does, or while shutting down. `health` sums it up: ACTIVE when every token is, UNAVAILABLE when none
 * serves, DEGRADED in between.
 */
export function readiness(
  tokens: TokenRegistry,
  shuttingDown: boolean,
): { ready: boolean; body: { status: string; health: HealthStatus; tokens: TokenReadiness[] } } {
  const list = tokens.tokens.map((t): TokenReadiness => {
    const h = t.healthTracker.report();
    // The manager's own state is the authority on whether it serves; the tracker adds why and how well.
    const serving = t.isReady();
    const status: HealthStatus = serving ? (h.status === 'UNAVAILABLE' ? 'ACTIVE' : h.status) : 'UNAVAILABLE';
    const reason = serving ? h.reason : (t.health.reason ?? t.state);
    return {
      warehouseId: t.warehouseId,
      name: t.config.name,
      health: status,
      ...(reason !== undefined && status !== 'ACTIVE' ? { reason } : {}),
      state: t.state,
      since: new Date(t.health.since).toISOString(),
      ready: serving,
      recentErrors: h.recentErrors,
      recentSlowCalls: h.recentSlowCalls,
    };
  });
  const serving = list.filter((t) => t.ready).length;
  const ready = !shuttingDown && serving > 0;
  const health: HealthStatus = !ready
    ? 'UNAVAILABLE'
    : list.every((t) => t.health === 'ACTIVE')
      ? 'ACTIVE'
      : 'DEGRADED';
  return { ready, body: { status: ready ? 'ready' : 'not ready', health, tokens: list } };
}
