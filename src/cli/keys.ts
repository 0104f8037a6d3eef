import { parseArgs } from 'node:util';
import { adoptKeyPair } from '../identities/keys/adopt';
import { keyMetadata } from '../identities/keys/facts';
import { keysOf, type KmsKey } from '../identities/keys/keyView';
import { setKeyEnabled } from '../identities/keys/lifecycle';
import { ApiError } from '../errors/apiError';
import type { TokenManager } from '../token/tokenManager';
import { withCliAudit } from './audited';
import { cliConfig, output, withToken } from './context';

const HELP = `p11bridge keys <command> [--config FILE] [--warehouse N] [--json]

  list                                          KMS keys on the token: KeyId, spec, usage, state, primary version
  describe --key-id ID|alias/NAME               a key's metadata, versions, aliases and tags
  disable  --key-id ID|alias/NAME               the key refuses every use (Rejected.Disabled) until enabled
  enable   --key-id ID|alias/NAME
  adopt    (--label L | --cka-id HEX) [--key-usage SIGN/VERIFY|ENCRYPT/DECRYPT] [--description D]
                                                expose an existing key pair as a KMS key: its key material is not
                                                touched; it must be sensitive and non-extractable. Its CKA_LABEL
                                                becomes <KeyId>/<KeyVersionId> (the old label is kept in the record)

Uses the same config and token manager as the daemon (default: the demo home's config).`;

const common = {
  config: { type: 'string' },
  warehouse: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  'key-id': { type: 'string' },
} as const;

/** `p11bridge keys …`: KMS keys from the command line, on the token directly. */
export async function keysCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  try {
    return await run(sub, rest);
  } catch (e) {
    if (e instanceof ApiError) throw new Error(`${e.code}: ${e.message}`);
    throw e;
  }
}

/** The key `ref` (a KeyId or an alias) names on this token. */
function findKey(token: TokenManager, ref: string | undefined): KmsKey {
  if (!ref) throw new Error('--key-id is required (see --help)');
  const key = keysOf(token).keys.find((k) => k.keyId === ref || k.record.aliases.includes(ref));
  if (!key) throw new Error(`no KMS key ${ref} on token ${token.name}`);
  return key;
}

function describe(key: KmsKey, accountId: string): Record<string, unknown> {
  return {
    ...keyMetadata(key, accountId),
    Versions: key.record.versions.map((v) => ({
      KeyVersionId: v.versionId,
      CreationDate: v.creationDate,
      ...(v.adoptedFrom ? { AdoptedFrom: v.adoptedFrom } : {}),
      KeyMaterial: key.versions.find((x) => x.versionId === v.versionId)?.keyPair ? 'present' : 'missing',
    })),
    Aliases: key.record.aliases,
    Tags: key.record.tags,
  };
}

async function run(sub: string, rest: string[]): Promise<number> {
  switch (sub) {
    case 'list': {
      const { values } = parseArgs({ args: rest, options: common });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const { rows, damaged } = await withToken(config, values.warehouse, (token) => {
        const r = keysOf(token);
        return Promise.resolve({
          rows: r.keys.map((k) => ({
            keyId: k.keyId,
            keySpec: k.record.keySpec,
            keyUsage: k.record.keyUsage,
            state: k.record.state,
            primaryKeyVersion: k.record.primaryKeyVersion,
            versions: k.record.versions.length,
            aliases: k.record.aliases,
            warehouseId: token.warehouseId,
          })),
          damaged: r.damaged.map((d) => ({ keyId: d.keyId, problem: d.problem })),
        });
      });
      output(values.json, values.json ? { keys: rows, damaged } : rows, () =>
        [
          ...rows.map(
            (r) =>
              `${r.keyId}  ${r.keySpec.padEnd(8)}  ${r.keyUsage.padEnd(15)}  ${r.state.padEnd(15)}  ${r.aliases.join(',')}`,
          ),
          ...damaged.map((d) => `${d.keyId}  REFUSED: ${d.problem}`),
        ].join('\n'),
      );
      return 0;
    }
    case 'describe': {
      const { values } = parseArgs({ args: rest, options: common });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const facts = await withToken(config, values.warehouse, (token) =>
        Promise.resolve(describe(findKey(token, values['key-id']), config.server.accountId)),
      );
      output(values.json, facts, () => JSON.stringify(facts, null, 2));
      return 0;
    }
    case 'disable':
    case 'enable': {
      const { values } = parseArgs({ args: rest, options: common });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const state = await withToken(config, values.warehouse, (token) =>
        withCliAudit(config, token, async (audit) => {
          const key = findKey(token, values['key-id']);
          await audit.change(
            { action: sub === 'enable' ? 'EnableKey' : 'DisableKey', command: `keys ${sub}`, identity: key.keyId },
            () => setKeyEnabled(key, sub === 'enable'),
          );
          return { keyId: key.keyId, state: sub === 'enable' ? 'Enabled' : 'Disabled' };
        }),
      );
      output(values.json, state, () => `${state.keyId}  ${state.state}`);
      return 0;
    }
    case 'adopt': {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...common,
          label: { type: 'string' },
          'cka-id': { type: 'string' },
          'key-usage': { type: 'string' },
          description: { type: 'string' },
        },
      });
      if (values.help) return help();
      if ((values.label === undefined) === (values['cka-id'] === undefined)) {
        throw new Error('name the key pair with exactly one of --label or --cka-id (see --help)');
      }
      const hex = values['cka-id'];
      if (hex !== undefined && !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('--cka-id: expected hex bytes');
      const usage = values['key-usage'] ?? 'SIGN/VERIFY';
      if (usage !== 'SIGN/VERIFY' && usage !== 'ENCRYPT/DECRYPT') {
        throw new Error('--key-usage must be SIGN/VERIFY or ENCRYPT/DECRYPT');
      }
      const config = cliConfig(values.config);
      const facts = await withToken(config, values.warehouse, (token) =>
        withCliAudit(config, token, async (audit) => {
          const key = await audit.change(
            {
              action: 'AdoptKey',
              command: 'keys adopt',
              detail: { KeyUsage: usage, ...(hex !== undefined ? { ckaId: hex } : { label: values.label }) },
            },
            () =>
              adoptKeyPair(token, {
                ref: hex !== undefined ? { ckaId: Buffer.from(hex, 'hex') } : { label: values.label as string },
                keyUsage: usage,
                description: values.description ?? '',
                scope: config.server,
                creator: 'p11bridge keys adopt',
              }),
            (k) => [{ identity: k.keyId, version: k.record.primaryKeyVersion }],
          );
          return describe(key, config.server.accountId);
        }),
      );
      output(values.json, facts, () => `${String(facts.KeyId)}  ${String(facts.KeySpec)}  ${usage}  adopted`);
      return 0;
    }
    default:
      console.error(`unknown keys command "${sub}"\n\n${HELP}`);
      return 2;
  }
}

function help(): number {
  console.log(HELP);
  return 0;
}
