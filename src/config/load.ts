import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configSchema, type Config } from './schema';

/** A config file that does not validate; the message lists every problem with its path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variables that override deployment values (documented in docs/configuration.md). */
const ENV_OVERRIDES: Array<[string, (c: Record<string, unknown>, v: string) => void]> = [
  ['P11BRIDGE_HOST', (c, v) => (section(c, 'server').host = v)],
  ['P11BRIDGE_PORT', (c, v) => (section(c, 'server').port = Number(v))],
  ['P11BRIDGE_WORKERS', (c, v) => (section(c, 'server').workers = v === 'auto' ? v : Number(v))],
  ['P11BRIDGE_LOG_LEVEL', (c, v) => (section(c, 'logging').level = v)],
  ['P11BRIDGE_REPLAY_STORE', (c, v) => (copied(copied(c, 'auth'), 'replay').store = v)],
  ['P11BRIDGE_REDIS_URL', (c, v) => (copied(copied(c, 'auth'), 'replay').redisUrl = v)],
];

function section(c: Record<string, unknown>, name: string): Record<string, unknown> {
  const s = c[name];
  if (s !== null && typeof s === 'object' && !Array.isArray(s)) return s as Record<string, unknown>;
  const fresh: Record<string, unknown> = {};
  c[name] = fresh;
  return fresh;
}

/** Like {@link section}, but a copy: the caller's nested object (a parsed file) is never changed. */
function copied(c: Record<string, unknown>, name: string): Record<string, unknown> {
  const fresh = { ...section(c, name) };
  c[name] = fresh;
  return fresh;
}

/** Validates a parsed config object; throws ConfigError naming each bad path (`tokens.0.sessions.size: ...`). */
export function validateConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const obj: Record<string, unknown> =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : {};
  for (const [name, apply] of ENV_OVERRIDES) {
    const v = env[name];
    if (v !== undefined && v !== '') apply(obj, v);
  }
  const result = configSchema.safeParse(obj);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const cfg = result.data;
  const whIds = new Set<number>();
  for (const t of cfg.tokens) {
    if (whIds.has(t.warehouseId))
      throw new ConfigError(`invalid configuration:\n  tokens: duplicate warehouseId ${t.warehouseId}`);
    whIds.add(t.warehouseId);
  }
  // A timestamp is accepted for 2 × maxSkew (either side of the clock): a nonce forgotten sooner can be replayed.
  if (cfg.auth.nonceTtlSeconds < 2 * cfg.auth.maxSkewSeconds) {
    throw new ConfigError(
      `invalid configuration:\n  auth.nonceTtlSeconds: must be at least 2 × auth.maxSkewSeconds (${2 * cfg.auth.maxSkewSeconds}), or a replayed request can pass`,
    );
  }
  const akIds = new Set<string>();
  for (const k of cfg.auth.accessKeys) {
    if (akIds.has(k.id)) throw new ConfigError(`invalid configuration:\n  auth.accessKeys: duplicate id ${k.id}`);
    akIds.add(k.id);
  }
  return cfg;
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(e as Error).message}`);
  }
  return validateConfig(raw, env);
}
