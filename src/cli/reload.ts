import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load';
import { oneLine, prepareReload } from '../reload/prepare';
import { demoFiles } from './demo';
import { demoHome } from './paths';

const HELP = `p11bridge reload [--config F] [--pid-file F]
  Checks the config (schema, access-key secrets, TLS files) and, if it is good, sends SIGHUP to the serving
  process, which re-reads it: access keys added, disabled or removed and a renewed TLS certificate take effect
  at once, without a restart. A bad config is reported here and never reaches the daemon.
  Without options: the demo home ($P11BRIDGE_HOME). The pid file is --pid-file, else server.pidFile.`;

/** `p11bridge reload`: validate here (one error line), then SIGHUP the daemon named by its pid file. */
export async function reloadCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, 'pid-file': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const demo = demoFiles(demoHome());
  const configFile = values.config ?? demo.config;
  let pidFile: string | undefined = values['pid-file'];
  try {
    const config = loadConfigFile(configFile);
    // The running config is not known here: compare the file with itself (only the checks matter).
    prepareReload(config, config);
    pidFile ??= config.server.pidFile ?? (values.config ? undefined : demo.pid);
  } catch (e) {
    console.error(`p11bridge reload: refused: ${oneLine(e)}`);
    return 1;
  }
  if (!pidFile) {
    console.error('p11bridge reload: no pid file: pass --pid-file or set server.pidFile in the config');
    return 2;
  }
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch (e) {
    console.error(
      `p11bridge reload: cannot read ${pidFile} (${(e as NodeJS.ErrnoException).code ?? 'error'}): is p11bridge serving?`,
    );
    return 1;
  }
  if (!Number.isInteger(pid) || pid <= 0) {
    console.error(`p11bridge reload: ${pidFile} does not hold a process id`);
    return 1;
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    console.error(`p11bridge reload: cannot signal process ${pid}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    return 1;
  }
  console.log(
    `p11bridge reload: config ${configFile} is valid; SIGHUP sent to process ${pid} (its log says when it applied)`,
  );
  return 0;
}
