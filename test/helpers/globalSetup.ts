import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
}
