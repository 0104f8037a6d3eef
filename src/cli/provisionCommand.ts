import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load';
import { provisionDemo, type DemoProvisioning } from '../identities/demoProvisioning';
import { silentLogger } from '../observability/logger';
import { TokenManager } from '../token/tokenManager';
import { withCliAudit } from './audited';

const HELP =
  'p11bridge provision --config <file> [--token NAME] [--ids CA,RSA,EC] [--json]\n' +
  '  Generates a CA key and RSA-2048 and EC P-256 signing keys inside the token, as far as the token can generate\n' +
  '  them (a token without EC gets an RSA CA and no EC key; the output says which key types it cannot generate),\n' +
  '  with certificates issued by the CA through PKCS#11. Keys are sensitive and never extractable. A token whose\n' +
  '  key templates cannot restrict usage (its keys also decrypt) is reported: the API still refuses that usage.\n' +
  '  --ids gives the identifiers (CKA_LABEL) to use instead of new UUIDs (CA, then RSA-2048, then EC P-256).';

/** The human-readable report: identities, then what the token cannot do, then weaker token-side restrictions. */
function report(r: DemoProvisioning): string[] {
  const lines = [r.ca, ...r.leaves].map((l) => `${l.id}  ${l.keySpec}${l === r.ca ? '  (CA)' : ''}`);
  lines.push(`lifecycle metadata and KMS key records: ${r.metadataStore}`);
  for (const s of r.skipped) lines.push(`not generated: ${s.keySpec}: ${s.reason}`);
  for (const l of [r.ca, ...r.leaves]) {
    if (l.tokenAllowsAlso) {
      lines.push(
        `weaker token-side restriction: ${l.id} was made for signing only, but the token lets its key also ` +
          `${l.tokenAllowsAlso.join(' and ')} (its key templates cannot restrict usage); the API refuses that usage`,
      );
    }
  }
  return lines;
}

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
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const config = loadConfigFile(values.config);
  const tokenConfig = values.token ? config.tokens.find((t) => t.name === values.token) : config.tokens[0];
  if (!tokenConfig) throw new Error(`no token named ${values.token ?? '(first)'} in ${values.config}`);
  const token = new TokenManager(tokenConfig, silentLogger());
  await token.open();
  try {
    const ids = values.ids?.split(',');
    // One audit entry per identity generated (decision 0030).
    const result = await withCliAudit(config, token, (audit) =>
      audit.change(
        { action: 'Provision', command: 'provision' },
        () =>
          provisionDemo(token, ids && ids.length >= 1 ? { ids: { ca: ids[0] as string, leaves: ids.slice(1) } } : {}),
        (r) =>
          [r.ca, ...r.leaves].map((l) => ({
            identity: l.id,
            detail: { KeySpec: l.keySpec, ...(l === r.ca ? { CA: true } : {}) },
          })),
      ),
    );
    if (values.json) console.log(JSON.stringify(result));
    else console.log(report(result).join('\n'));
  } finally {
    await token.close();
  }
  return 0;
}
