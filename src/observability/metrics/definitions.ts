import { Counter, Gauge, type Registry } from 'prom-client';
import { LocalCounter, LocalHistogram } from './localSeries';

/** What the token gauges read at scrape time (from memory: a scrape never calls a token). */
export interface TokenGaugeSource {
  readonly name: string;
  /** The token layer's state: `ready`, `recovering`, `unavailable`, … */
  readonly state: string;
  /** ACTIVE / DEGRADED / UNAVAILABLE (src/token/health.ts). */
  readonly health: string;
  readonly inUse: number;
  readonly idle: number;
  readonly waiting: number;
  readonly quarantined: number;
}

/** Every state a token can report, so that a state's series exists (at 0) before the token first enters it. */
const TOKEN_STATES = ['closed', 'opening', 'ready', 'recovering', 'unavailable', 'failed'] as const;
const HEALTH_STATES = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'] as const;

/** Request latency buckets: a SoftHSM2 ECDSA signature answers in ~1 ms, an HSM RSA-4096 in ~100 ms. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The daemon's metrics (docs/operations.md "Metrics" lists each with its labels). What every request or token call
 * touches is a Local* series (plain memory, prom-client's shape only when scraped: src/observability/metrics/
 * localSeries.ts); the rare ones are prom-client's own.
 */
export interface MetricSet {
  /** Labels: product, action, code. */
  readonly requests: LocalCounter;
  /** Labels: product, action. */
  readonly requestDuration: LocalHistogram;
  readonly throttled: Counter<'access_key_id'>;
  /** Labels: token, operation. */
  readonly tokenCallDuration: LocalHistogram;
  readonly pkcs11Errors: Counter<'token' | 'ckr'>;
  readonly tokenRecoveries: Counter<'token'>;
}

/**
 * Registers the daemon's metrics on `registry`. Gauges are read when scraped: `tokens()` and `replayEntries()` are
 * asked then (each process reports its own; the cluster primary sums its workers').
 */
export function defineMetrics(
  registry: Registry,
  sources: { tokens?: () => readonly TokenGaugeSource[]; replayEntries?: () => number },
): MetricSet {
  const registers = [registry];
  const set: MetricSet = {
    requests: new LocalCounter({
      name: 'p11bridge_requests_total',
      help: 'RPC requests answered, by product, action (a known operation, else "unknown") and Code ("OK": success).',
      labelNames: ['product', 'action', 'code'],
      registers,
    }),
    requestDuration: new LocalHistogram({
      name: 'p11bridge_request_duration_seconds',
      help: 'Time from the first byte handled to the answer written, by product and action.',
      labelNames: ['product', 'action'],
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    throttled: new Counter({
      name: 'p11bridge_throttled_requests_total',
      help: 'Requests refused with a Throttling code, by the AccessKeyId they authenticated with.',
      labelNames: ['access_key_id'],
      registers,
    }),
    tokenCallDuration: new LocalHistogram({
      name: 'p11bridge_token_operation_duration_seconds',
      help: 'PKCS#11 calls by token and operation (sign, decrypt, findObjects, readObjects or the C_* name).',
      labelNames: ['token', 'operation'],
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    pkcs11Errors: new Counter({
      name: 'p11bridge_pkcs11_errors_total',
      help: 'PKCS#11 calls that failed, by token and CKR_* name ("deadline": no answer within the deadline).',
      labelNames: ['token', 'ckr'],
      registers,
    }),
    tokenRecoveries: new Counter({
      name: 'p11bridge_token_recoveries_total',
      help: 'Times a token entered recovery (module re-initialisation, reconnection).',
      labelNames: ['token'],
      registers,
    }),
  };
  const tokens = sources.tokens;
  if (tokens) defineTokenGauges(registers, tokens);
  const replayEntries = sources.replayEntries;
  if (replayEntries) {
    new Gauge({
      name: 'p11bridge_replay_window_entries',
      help: 'Nonces remembered by the replay window (held by the cluster primary in a cluster).',
      registers,
      collect() {
        this.set(replayEntries());
      },
    });
  }
  return set;
}

function defineTokenGauges(registers: Registry[], tokens: () => readonly TokenGaugeSource[]): void {
  new Gauge({
    name: 'p11bridge_sessions',
    help: 'Pooled sessions by token and state (busy: lent out; idle; quarantined: waiting for a late call).',
    labelNames: ['token', 'state'],
    registers,
    collect() {
      for (const t of tokens()) {
        this.set({ token: t.name, state: 'busy' }, t.inUse);
        this.set({ token: t.name, state: 'idle' }, t.idle);
        this.set({ token: t.name, state: 'quarantined' }, t.quarantined);
      }
    },
  });
  new Gauge({
    name: 'p11bridge_session_waiters',
    help: 'Requests waiting for a session, by token.',
    labelNames: ['token'],
    registers,
    collect() {
      for (const t of tokens()) this.set({ token: t.name }, t.waiting);
    },
  });
  new Gauge({
    name: 'p11bridge_token_state',
    help: 'Processes in which the token is in this state (1 per process; a cluster sums its workers).',
    labelNames: ['token', 'state'],
    registers,
    collect() {
      for (const t of tokens())
        for (const s of TOKEN_STATES) this.set({ token: t.name, state: s }, s === t.state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'p11bridge_token_health',
    help: 'Processes in which the token has this health (ACTIVE, DEGRADED, UNAVAILABLE; see /readyz).',
    labelNames: ['token', 'status'],
    registers,
    collect() {
      for (const t of tokens())
        for (const s of HEALTH_STATES) this.set({ token: t.name, status: s }, s === t.health ? 1 : 0);
    },
  });
}
