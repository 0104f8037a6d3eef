import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load';
import { silentLogger } from '../observability/logger';
import { provisionDemo } from '../token/provision';
import { TokenManager } from '../token/tokenManager';

/** `p11bridge provision --config F [--token NAME] [--json]`: the demo key set, generated inside a configured token. */
export async function provisionCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      token: { type: 'string' },
      ids: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.config) {
    console.log(
      'p11bridge provision --config <file> [--token NAME] [--ids CA,RSA,EC] [--json]\n' +
        '  Generates a CA key and RSA-2048 and EC P-256 signing keys inside the token, with certificates\n' +
        '  issued by the CA through PKCS#11. Keys are sensitive and never extractable.\n' +
        '  --ids gives the identifiers (CKA_LABEL) to use instead of new UUIDs.',
    );
    return values.help ? 0 : 2;
  }
  const config = loadConfigFile(values.config);
  const tokenConfig = values.token ? config.tokens.find((t) => t.name === values.token) : config.tokens[0];
  if (!tokenConfig) throw new Error(`no token named ${values.token ?? '(first)'} in ${values.config}`);
  const token = new TokenManager(tokenConfig, silentLogger());
  await token.open();
  try {
    const ids = values.ids?.split(',');
    const result = await provisionDemo(
      token,
      ids && ids.length >= 1 ? { ids: { ca: ids[0] as string, leaves: ids.slice(1) } } : {},
    );
    if (values.json) console.log(JSON.stringify(result));
    else for (const l of [result.ca, ...result.leaves]) console.log(`${l.id}  ${l.keySpec}`);
  } finally {
    await token.close();
  }
  return 0;
}
