import { ConfigError } from '../config/load';
import { ALLOW_ALL, type AccessKeyGrant } from './accessKeys';

export const ACCESS_KEYS_HELP = `p11bridge access-keys create [--json] [--actions A,B] [--certificates ID,ID] [--warehouses 1,2]
                             [--max-certificates N]
  Prints a new AccessKey id/secret pair in the cloud format and its auth.accessKeys entry, every permission named
  and commented: actions (RAM actions, default "*"), certificates (identifiers, default "*"), warehouses (where
  CreateCertificate may create keys, default "*"), maxCertificates (how many it may create; default unset).
  --json prints { accessKeyId, accessKeySecret, grant }.`;

/** A comma-separated option as a list; undefined when the option is absent. */
function list(value: string | undefined, option: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (items.length === 0) throw new ConfigError(`--${option}: expected a comma-separated list, got "${value}"`);
  return items;
}

/** The permissions asked for on the command line (ALLOW_ALL where an option is absent), checked as the schema would. */
export function parseGrant(values: {
  actions?: string;
  certificates?: string;
  warehouses?: string;
  'max-certificates'?: string;
}): AccessKeyGrant {
  const warehouses = list(values.warehouses, 'warehouses')?.map((w) => {
    if (w === '*') return '*' as const;
    const n = Number(w);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--warehouses: expected warehouse ids or "*", got "${w}"`);
    return n;
  });
  const max = values['max-certificates'];
  const maxCertificates = max === undefined ? undefined : Number(max);
  if (maxCertificates !== undefined && (!Number.isInteger(maxCertificates) || maxCertificates < 0))
    throw new ConfigError(`--max-certificates: expected a whole number, got "${max}"`);
  return {
    actions: list(values.actions, 'actions') ?? ALLOW_ALL.actions,
    certificates: list(values.certificates, 'certificates') ?? ALLOW_ALL.certificates,
    warehouses: warehouses ?? ALLOW_ALL.warehouses,
    ...(maxCertificates === undefined ? {} : { maxCertificates }),
  };
}
