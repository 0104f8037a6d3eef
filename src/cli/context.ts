import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { loadConfigFile } from '../config/load';
import type { Config } from '../config/schema';
import { silentLogger } from '../observability/logger';
import { TokenManager } from '../token/tokenManager';
import { demoFiles } from './demo';
import { demoHome } from './paths';

/**
 * The config an operator command uses: `--config FILE`, else the demo home's (with its SoftHSM2 conf).
 * The CLI opens tokens with the same TokenManager as the daemon, so it sees exactly what the daemon serves.
 */
export function cliConfig(path: string | undefined): Config {
  if (path) return loadConfigFile(path);
  const home = demoHome();
  const files = demoFiles(home);
  if (!existsSync(files.config)) {
    throw new Error(`no config: pass --config FILE, or run "npm start" once to create the demo home (${home})`);
  }
  process.env.SOFTHSM2_CONF ??= `${home}/softhsm2.conf`;
  return loadConfigFile(files.config);
}

/** Opens the token of `--warehouse N` (default: the first configured token), runs `fn`, and closes it. */
export async function withToken<T>(
  config: Config,
  warehouse: string | undefined,
  fn: (t: TokenManager) => Promise<T>,
): Promise<T> {
  const id = warehouse === undefined ? undefined : Number(warehouse);
  const tokenConfig = id === undefined ? config.tokens[0] : config.tokens.find((t) => t.warehouseId === id);
  if (!tokenConfig) throw new Error(`no token with warehouseId ${warehouse ?? '(first)'} in the config`);
  const token = new TokenManager({ ...tokenConfig, indexRefreshMs: 0 }, silentLogger());
  await token.open();
  try {
    return await fn(token);
  } finally {
    await token.close();
  }
}

/** Asks a yes/no question on the terminal; without a terminal the answer is no (use --yes in scripts). */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Prints data as JSON (`--json`) or as aligned text lines. */
export function output(json: boolean | undefined, data: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(data) : text());
}
