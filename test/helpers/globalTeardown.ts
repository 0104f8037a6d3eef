import { rmSync } from 'node:fs';
import { scanForLeaks } from './leakScan';

/**
 * Runs the suite's leak check (test/helpers/leakCheck.ts), then removes the run's SoftHSM2 token store. A secret or
 * message content found in any daemon's log or audit file fails the run: Jest reports a global teardown that
 * throws and exits non-zero.
 */
export default function globalTeardown(): void {
  const dir = process.env.P11BRIDGE_TEST_TOKEN_STORE;
  const leakDir = process.env.P11BRIDGE_LEAKCHECK_DIR;
  try {
    if (leakDir) {
      const r = scanForLeaks(leakDir);
      process.stderr.write(
        `leak check: ${r.files} log and audit files (${(r.bytes / 1e6).toFixed(1)} MB) scanned for ${r.secrets} secrets ` +
          `and ${r.contents} message contents: ${r.leaks.length === 0 ? 'none found' : `${r.leaks.length} FOUND`}\n`,
      );
      if (r.leaks.length > 0) {
        throw new Error(`secrets or message contents reached a log or audit file:\n${r.leaks.slice(0, 20).join('\n')}`);
      }
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
