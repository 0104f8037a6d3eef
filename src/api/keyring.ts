import type { AccessKeyConfig, Config } from '../config/schema';
import { resolveSecret } from '../config/secret';
import { RateLimiter, type Rate } from './limits/rateLimiter';
import type { ResolvedAccessKey } from './permissions';

/**
 * Resolves every access key's secret (env or file; a file readable by others is refused). Throws with the
 * reference, never the value, so a reload can refuse a bad config before anything is swapped.
 */
export function resolveAccessKeys(config: Config): Map<string, ResolvedAccessKey> {
  const out = new Map<string, ResolvedAccessKey>();
  for (const k of config.auth.accessKeys) {
    out.set(k.id, {
      id: k.id,
      secret: resolveSecret(k.secret).reveal(),
      enabled: k.enabled,
      actions: k.actions,
      certificates: k.certificates,
      warehouses: k.warehouses,
      ...(k.maxCertificates === undefined ? {} : { maxCertificates: k.maxCertificates }),
      ...(k.maxKeys === undefined ? {} : { maxKeys: k.maxKeys }),
      ...(k.clientCertificate === undefined ? {} : { clientCertificate: normalisedBinding(k.clientCertificate) }),
    });
  }
  return out;
}

function normalisedBinding(
  b: NonNullable<AccessKeyConfig['clientCertificate']>,
): ResolvedAccessKey['clientCertificate'] {
  if ('sha256' in b) return { sha256: b.sha256.replace(/:/g, '').toUpperCase() };
  return { subject: b.subject };
}

/** The rate of each key in one of `processes` serving processes (connections are spread evenly among them). */
function ratesOf(config: Config, processes: number): Map<string, Rate | undefined> {
  const out = new Map<string, Rate | undefined>();
  for (const k of config.auth.accessKeys) {
    if (k.qps === undefined) continue;
    const burst = k.burst ?? Math.max(1, Math.ceil(k.qps));
    out.set(k.id, { qps: k.qps / processes, burst: Math.max(1, Math.round(burst / processes)) });
  }
  return out;
}

/** The settings one request runs under: the config and the resolved keys of the same reload. */
export interface Snapshot {
  readonly config: Config;
  readonly keys: ReadonlyMap<string, ResolvedAccessKey>;
}

/**
 * The access keys a daemon serves, their request rates and the config they came with, swapped whole by a
 * reload. A request reads {@link current} once, at its start, so it finishes under the rules it started with.
 */
export class KeyRing {
  #current: Snapshot;
  readonly limiter = new RateLimiter();
  readonly #processes: number;

  /** `processes`: serving processes the rates are split among (cluster workers). */
  constructor(config: Config, processes = 1, now = Date.now()) {
    this.#processes = processes;
    this.#current = { config, keys: resolveAccessKeys(config) };
    this.limiter.setRates(ratesOf(config, processes), now);
  }

  /** The current settings (one snapshot: hold it for the whole request). */
  get current(): Snapshot {
    return this.#current;
  }

  /** Installs a reloaded config with its keys resolved by {@link resolveAccessKeys}, and its rates. */
  replace(config: Config, keys: Map<string, ResolvedAccessKey>, now = Date.now()): void {
    this.#current = { config, keys };
    this.limiter.setRates(ratesOf(config, this.#processes), now);
  }
}
