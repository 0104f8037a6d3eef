import { resolve } from 'node:path';

/** The project root (dist/cli/.. /..), where `.p11bridge/` lives by default. */
const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** The demo home: `$P11BRIDGE_HOME`, default `<project>/.p11bridge` (git-ignored). */
export function demoHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.P11BRIDGE_HOME ?? resolve(PROJECT_ROOT, '.p11bridge'));
}
