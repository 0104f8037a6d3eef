/**
 * The SM2 test token (softhsm/sm2-test-token): a PKCS#11 TEST DOUBLE for a vendor SM2 HSM, built from source by
 * scripts/build-sm2-test-token.sh. Its keys are plain files and its PIN check is a hash comparison: it lets an SM2
 * application be developed and tested on a laptop (`npm start -- --sm2`, `npm test`), never hold a real key.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from './paths';

/** The file name of the built test module (scripts/build-sm2-test-token.sh). */
const SM2_TEST_MODULE_FILE = 'libp11bridge-sm2-test.so';

/**
 * Builds the test module when its source is newer than the library (a few seconds with `cc` and libssl-dev, which
 * scripts/bootstrap.sh installs) and returns its path; throws the build's own message when it cannot.
 */
export function buildSm2TestModule(): string {
  const r = spawnSync('bash', [resolve(PROJECT_ROOT, 'scripts', 'build-sm2-test-token.sh')], { encoding: 'utf8' });
  const path = r.stdout?.trim() ?? '';
  if (r.status !== 0 || !path.endsWith(SM2_TEST_MODULE_FILE)) {
    const why = `${r.stderr || r.stdout || r.error?.message || `exit status ${r.status}`}`.trim();
    throw new Error(`could not build the SM2 test token (scripts/build-sm2-test-token.sh): ${why}`);
  }
  return path;
}

/** True when a token's module is the SM2 test double (its entries are marked `testDouble` by the demo). */
export function isSm2TestModule(module: string): boolean {
  return basename(module) === SM2_TEST_MODULE_FILE;
}

/**
 * Creates a token of the test module, if absent: `<dir>/<label>/token.conf` holding its label, a serial and the
 * SHA-256 of the PIN (the module's whole PIN check), and an empty object store. The module finds it through
 * `$P11BRIDGE_SM2TOKEN_DIR` = `dir`, read at C_Initialize. Returns the token's directory.
 */
export function createSm2TestTokenDir(dir: string, label: string, pin: string): string {
  const tokenDir = join(dir, label);
  mkdirSync(join(tokenDir, 'objects'), { recursive: true, mode: 0o700 });
  const conf = join(tokenDir, 'token.conf');
  if (!existsSync(conf)) {
    const pinHash = createHash('sha256').update(pin).digest('hex');
    writeFileSync(conf, `label=${label}\nserial=${randomBytes(8).toString('hex')}\npin-sha256=${pinHash}\n`, {
      mode: 0o600,
    });
  }
  return tokenDir;
}

/**
 * The `sm2` section of docs/hsm/sm2-tass.yaml, as raw config: the TASS numbers the test module implements. Read
 * from the documented sample, so that the sample is what the demo and the tests run.
 */
export function tassSampleProfile(): Record<string, unknown> {
  const file = resolve(PROJECT_ROOT, 'docs', 'hsm', 'sm2-tass.yaml');
  const sample = parse(readFileSync(file, 'utf8')) as { tokens?: Array<{ sm2?: Record<string, unknown> }> };
  const sm2 = sample.tokens?.[0]?.sm2;
  if (!sm2) throw new Error(`${file} has no tokens[0].sm2`);
  return sm2;
}
