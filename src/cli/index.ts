import { parseArgs } from 'node:util';
import { loadConfigFile, ConfigError } from '../config/load';
import type { Config } from '../config/schema';
import { accessKeyConfigSnippet, newAccessKey } from './accessKeys';
import { auditCommand } from './audit';
import { ACCESS_KEYS_HELP, parseGrant } from './accessKeysCommand';
import { demoBanner, demoFiles, demoInfo, ensureDemo, recordDemoEndpoint } from './demo';
import { demoTlsBanner, ensureDemoTls, withDemoTls } from './demoTls';
import { demoHome } from './paths';
import { reloadCommand } from './reload';
import { certsCommand } from './certs';
import { keysCommand } from './keys';
import { provisionCommand } from './provisionCommand';
import { slotsCommand } from './slots';

const HELP = `p11bridge: Alibaba Cloud KMS/CAS signing APIs in front of a PKCS#11 token

Usage:
  p11bridge serve --config <file> [--host H] [--port N]   serve with a config file
  p11bridge demo serve [--host H] [--port N] [--tls] [--sm2]
                                                          set up the demo home (SoftHSM2 token) and serve it
  p11bridge reload [--config F | --pid-file F]            re-read the config, secrets and TLS files (SIGHUP)
  p11bridge demo [--json]                                 print the demo endpoint, credentials and certificates
  p11bridge provision --config <file> [--token NAME]      generate the demo key set inside a configured token
  p11bridge slots [--config F] [--json]                   tokens, mechanisms and capability summary
  p11bridge certs list|create|import|export|status|delete certificate lifecycle on the token (certs --help)
  p11bridge keys list|describe|disable|enable|adopt       KMS keys on the token (keys --help)
  p11bridge access-keys create [--json]                   print a new AccessKey pair for the config
  p11bridge audit verify [--key PEM] FILE...              verify audit log files (chain and checkpoints)
  p11bridge audit verify --config <file>                  verify every file of the config's audit log
  p11bridge <command> --help                              help for a command

Environment: P11BRIDGE_HOME (demo home, default ./.p11bridge), P11BRIDGE_HOST, P11BRIDGE_PORT,
P11BRIDGE_WORKERS, P11BRIDGE_LOG_LEVEL, SOFTHSM2_CONF.`;

type Handler = (args: string[]) => Promise<CommandOutcome>;

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
 * What a serving command hands to the process (src/main.ts): the config to serve, how to read it again on SIGHUP
 * (the file with the command line's overrides), and who to tell once the daemon listens.
 */
export interface ServeRequest {
  readonly config: Config;
  readonly reread: () => Config;
  readonly onListening?: (host: string, port: number) => void;
}

/** A command's result: an exit code, or a daemon for the process to run until it is stopped. */
export type CommandOutcome = number | ServeRequest;

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
    const file = values.config;
    const read = (): Config => withListen(loadConfigFile(file), values.host, values.port);
    return { config: read(), reread: read };
  },

  async demo(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        tls: { type: 'boolean' },
        sm2: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      console.log(
        'p11bridge demo [--json]                   print the demo endpoint, credentials and certificates\n' +
          'p11bridge demo serve [--host H] [--port N] [--tls] [--sm2]\n' +
          '                                          provision the demo SoftHSM2 token on first run, then serve it;\n' +
          '                                          --tls: over HTTPS with a demo CA and server certificate;\n' +
          '                                          --sm2: add the SM2 test token (a PKCS#11 TEST DOUBLE for an\n' +
          '                                          SM2 HSM, built from softhsm/sm2-test-token) as a second\n' +
          '                                          warehouse with an EC_SM2 certificate; it stays in the demo config\n' +
          'p11bridge demo provision [--sm2]          provision the demo home and token(s), then exit',
      );
      return 0;
    }
    const home = demoHome();
    const config = await ensureDemo(home, undefined, values.sm2 ? { sm2: true } : {});
    if (positionals[0] === 'provision') return 0;
    if (positionals[0] === 'serve') {
      const tls = values.tls ? await ensureDemoTls(home, values.host) : undefined;
      const read = (c: Config): Config => {
        const listen = withListen(c, values.host, values.port);
        const withPid = { ...listen, server: { ...listen.server, pidFile: demoFiles(home).pid } };
        return tls ? withDemoTls(withPid, tls) : withPid;
      };
      return {
        config: read(config),
        reread: () => read(loadConfigFile(demoFiles(home).config)),
        onListening: (host, port) => {
          recordDemoEndpoint(home, host, port);
          demoInfo(home, config).then(
            (info) => console.log(tls ? demoTlsBanner(info, tls) : demoBanner(info)),
            (e: unknown) => console.error(`could not read the demo info: ${(e as Error).message}`),
          );
        },
      };
    }
    const info = await demoInfo(home, config);
    console.log(values.json ? JSON.stringify(info) : demoBanner(info));
    return 0;
  },

  provision: provisionCommand,
  reload: reloadCommand,
  slots: slotsCommand,
  certs: certsCommand,
  keys: keysCommand,
  audit: auditCommand,

  async 'access-keys'(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        actions: { type: 'string' },
        certificates: { type: 'string' },
        warehouses: { type: 'string' },
        'max-certificates': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    if (values.help || positionals[0] !== 'create') {
      console.log(ACCESS_KEYS_HELP);
      return values.help ? 0 : 2;
    }
    const grant = parseGrant(values);
    const k = newAccessKey();
    if (values.json) console.log(JSON.stringify({ ...k, grant }));
    else
      console.log(
        `AccessKeyId:     ${k.accessKeyId}\nAccessKeySecret: ${k.accessKeySecret}\n\n${accessKeyConfigSnippet(k.accessKeyId, grant)}`,
      );
    return 0;
  },
};

/** Runs the command named by `argv[0]`; a serving command returns what to serve instead of serving it. */
export async function runCommand(argv: string[]): Promise<CommandOutcome> {
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
