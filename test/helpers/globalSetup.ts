import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSoftHsmConf } from '../../src/cli/softhsm';

/**
 * One SoftHSM2 token store for the whole test run, set in the REAL environment before Jest starts its workers.
 * Jest gives each test file a copy of `process.env`, so a suite cannot point the native SoftHSM2 library at a
 * configuration of its own: suites are isolated by token label instead (see test/helpers/token.ts).
 */
export default function globalSetup(): void {
  const dir = mkdtempSync(join(tmpdir(), 'p11bridge-tokens-'));
  const conf = writeSoftHsmConf(dir);
  process.env.SOFTHSM2_CONF = conf;
  process.env.P11BRIDGE_TEST_TOKEN_STORE = dir;
  setUpSm2TestToken(dir);
}

/**
 * The SM2 test token (softhsm/sm2-test-token, a PKCS#11 test double for a vendor SM2 HSM): built when its source is
 * newer than the library, and given its token directory through the real environment, as SoftHSM2 is above. A
 * build failure is recorded rather than thrown, so that suites without SM2 still run; the SM2 suites report it
 * (test/helpers/sm2Token.ts).
 */
function setUpSm2TestToken(store: string): void {
  const tokens = join(store, 'sm2');
  mkdirSync(tokens, { mode: 0o700 });
  process.env.P11BRIDGE_SM2TOKEN_DIR = tokens;
  const build = spawnSync('bash', [resolve(__dirname, '..', '..', 'scripts', 'build-sm2-test-token.sh')], {
    encoding: 'utf8',
  });
  if (build.status === 0) process.env.P11BRIDGE_SM2_TEST_MODULE = build.stdout.trim();
  else process.env.P11BRIDGE_SM2_TEST_MODULE_ERROR = `${build.stderr || build.stdout || build.error?.message}`.trim();
}
