import { parseArgs } from 'node:util';
import { loadConfigFile, ConfigError } from '../config/load';
import type { Config } from '../config/schema';
import { createLogger } from '../observability/logger';
import { startCluster } from '../cluster/primary';
import { resolveWorkers, threadpoolSize } from '../cluster/workers';
import { startDaemon } from '../server';
import { newAccessKey } from './accessKeys';
import { demoBanner, demoInfo, ensureDemo, recordDemoEndpoint } from './demo';
import { demoHome } from './paths';
import { certsCommand } from './certs';
import { provisionCommand } from './provisionCommand';
import { slotsCommand } from './slots';

const HELP = `p11bridge: Alibaba Cloud KMS/CAS signing APIs in front of a PKCS#11 token

Usage:
  p11bridge serve --config <file> [--host H] [--port N]   serve with a config file
  p11bridge demo serve [--host H] [--port N]              set up the demo home (SoftHSM2 token) and serve it
  p11bridge demo [--json]                                 print the demo endpoint, credentials and certificates
  p11bridge provision --config <file> [--token NAME]      generate the demo key set inside a configured token
  p11bridge slots [--config F] [--json]                   tokens, mechanisms and capability summary
  p11bridge certs list|create|import|export|status|delete certificate lifecycle on the token (certs --help)
  p11bridge access-keys create [--json]                   print a new AccessKey pair for the config
  p11bridge <command> --help                              help for a command

Environment: P11BRIDGE_HOME (demo home, default ./.p11bridge), P11BRIDGE_HOST, P11BRIDGE_PORT,
P11BRIDGE_WORKERS, P11BRIDGE_LOG_LEVEL, SOFTHSM2_CONF.`;

type Handler = (args: string[]) => Promise<number>;

/** Applies --host/--port to a loaded config (they win over the file and the environment). */
function withListen(config: Config, host: string | undefined, port: string | undefined): Config {
  const server = { ...config.server };
  if (host !== undefined) server.host = host;
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new ConfigError(`--port: expected a port number, got ${port}`);
    server.port = n;
  }
  return { ...config, server };
}

/**
 * Serves until SIGTERM/SIGINT, then stops gracefully: in this process when the config asks for one worker,
 * otherwise as a node:cluster primary with `server.workers` serving processes (src/cluster/primary.ts).
 */
async function serve(config: Config, onListening?: (host: string, port: number) => void): Promise<number> {
  // Sized before anything uses the threadpool (a worker inherits the same rule through its environment).
  process.env.UV_THREADPOOL_SIZE ??= String(threadpoolSize(config));
  const log = createLogger(config.logging.level);
  const workers = resolveWorkers(config);
  const daemon = workers > 1 ? await startCluster(config, log, { workers }) : await startDaemon(config, log);
  onListening?.(daemon.host, daemon.port);
  let exitCode = 0;
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      daemon.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    if ('failed' in daemon) {
      void daemon.failed.then((code) => {
        exitCode = code;
        daemon.stop().then(resolve, resolve);
      });
    }
    // SIGHUP re-reads secrets (a token whose PIN was refused tries the new one once); it never stops the daemon.
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading');
      daemon.reload().catch((e: unknown) => log.error({ err: (e as Error).message }, 'reload failed'));
    });
  });
  log.flush();
  return exitCode;
}

const commands: Record<string, Handler> = {
  async serve(args) {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    if (values.help || !values.config) {
      console.log(
        'p11bridge serve --config <file> [--host H] [--port N]\n  Serves the KMS and CAS APIs for the tokens in the config file.',
      );
      return values.help ? 0 : 2;
    }
    return serve(withListen(loadConfigFile(values.config), values.host, values.port));
  },

  async demo(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      console.log(
        'p11bridge demo [--json]                   print the demo endpoint, credentials and certificates\n' +
          'p11bridge demo serve [--host H] [--port N] provision the demo SoftHSM2 token on first run, then serve it\n' +
          'p11bridge demo provision                  provision the demo home and token, then exit',
      );
      return 0;
    }
    const home = demoHome();
    const config = await ensureDemo(home);
    if (positionals[0] === 'provision') return 0;
    if (positionals[0] === 'serve') {
      return serve(withListen(config, values.host, values.port), (host, port) => {
        recordDemoEndpoint(home, host, port);
        demoInfo(home, config).then(
          (info) => console.log(demoBanner(info)),
          (e: unknown) => console.error(`could not read the demo info: ${(e as Error).message}`),
        );
      });
    }
    const info = await demoInfo(home, config);
    console.log(values.json ? JSON.stringify(info) : demoBanner(info));
    return 0;
  },

  provision: provisionCommand,
  slots: slotsCommand,
  certs: certsCommand,

  async 'access-keys'(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean' } },
    });
    if (values.help || positionals[0] !== 'create') {
      console.log(
        'p11bridge access-keys create [--json]\n  Prints a new AccessKey id/secret pair in the cloud format, ready for auth.accessKeys.',
      );
      return values.help ? 0 : 2;
    }
    const k = newAccessKey();
    if (values.json) console.log(JSON.stringify(k));
    else
      console.log(
        `AccessKeyId:     ${k.accessKeyId}\nAccessKeySecret: ${k.accessKeySecret}\n\n` +
          `# config.yaml (store the secret in a file or an environment variable, never in the config itself):\n` +
          `auth:\n  accessKeys:\n    - id: ${k.accessKeyId}\n      secret: { env: P11BRIDGE_SECRET_${k.accessKeyId.slice(-6).toUpperCase()} }\n      actions: ['*']\n      certificates: ['*']`,
      );
    return 0;
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Operator-facing: the message, not a stack (config and token errors name what to fix).
    console.error(`p11bridge: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
