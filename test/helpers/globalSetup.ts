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
  // The leak check's directory (test/helpers/leakCheck.ts): recorded secrets and contents, daemon logs and audits.
  const leaks = join(dir, 'leakcheck');
  mkdirSync(leaks, { mode: 0o700 });
  process.env.P11BRIDGE_LEAKCHECK_DIR = leaks;
  setUpSm2TestToken(dir);
  setUpFaultToken(dir);
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

/**
 * The fault token (softhsm/fault-token, a PKCS#11 test double that forwards to SoftHSM2 and injects faults): built
 * like the SM2 token, its path in P11BRIDGE_FAULT_MODULE (or the build's error in P11BRIDGE_FAULT_MODULE_ERROR).
 * The module reads its control and counts paths from the REAL environment at C_Initialize, which a suite cannot
 * change (see above); so every Jest worker gets per-process paths ("%p" is the process id, expanded by the
 * module) under the run's store, and test/helpers/faultToken.ts links them to the suite's own control files.
 */
function setUpFaultToken(store: string): void {
  const fault = join(store, 'fault');
  mkdirSync(fault, { mode: 0o700 });
  process.env.P11FAULT_CONTROL = join(fault, '%p', 'control');
  process.env.P11FAULT_COUNTS = join(fault, '%p', 'counts');
  const build = spawnSync('bash', [resolve(__dirname, '..', '..', 'scripts', 'build-fault-token.sh')], {
    encoding: 'utf8',
  });
  if (build.status === 0) process.env.P11BRIDGE_FAULT_MODULE = build.stdout.trim();
  else process.env.P11BRIDGE_FAULT_MODULE_ERROR = `${build.stderr || build.stdout || build.error?.message}`.trim();
}
