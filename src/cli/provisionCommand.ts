import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load';
import { silentLogger } from '../observability/logger';
import { provisionDemo } from '../token/provision';
import { TokenManager } from '../token/tokenManager';

/** `p11bridge provision --config F [--token NAME] [--json]`: the demo key set, generated inside a configured token. */
export async function provisionCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.config) {
    console.log(
      'p11bridge provision --config <file> [--token NAME] [--json]\n' +
        '  Generates a CA key and RSA-2048 and EC P-256 signing keys inside the token, with certificates\n' +
        '  issued by the CA through PKCS#11. Keys are sensitive and never extractable.',
    );
    return values.help ? 0 : 2;
  }
  const config = loadConfigFile(values.config);
  const tokenConfig = values.token ? config.tokens.find((t) => t.name === values.token) : config.tokens[0];
  if (!tokenConfig) throw new Error(`no token named ${values.token ?? '(first)'} in ${values.config}`);
  const token = new TokenManager(tokenConfig, silentLogger());
  await token.open();
  try {
    const result = await provisionDemo(token);
    if (values.json) console.log(JSON.stringify(result));
    else for (const l of [result.ca, ...result.leaves]) console.log(`${l.id}  ${l.keySpec}`);
  } finally {
    await token.close();
  }
  return 0;
}
