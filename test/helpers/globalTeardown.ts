import { rmSync } from 'node:fs';

/** Removes the run's SoftHSM2 token store. */
export default function globalTeardown(): void {
  const dir = process.env.P11BRIDGE_TEST_TOKEN_STORE;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
