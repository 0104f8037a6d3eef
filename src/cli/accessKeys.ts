import { randomInt } from 'node:crypto';
import { Document, isMap, isScalar, isSeq, type YAMLMap } from 'yaml';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlnum(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

/**
 * A new AccessKey pair in the cloud's format: a 24-character id starting `LTAI5t` and a 30-character
 * alphanumeric secret (what the RAM console issues today).
 */
export function newAccessKey(): { accessKeyId: string; accessKeySecret: string } {
  return { accessKeyId: `LTAI5t${randomAlnum(18)}`, accessKeySecret: randomAlnum(30) };
}

/** What an access key may do: the permission keys of `auth.accessKeys[]` (src/config/schema.ts). */
export interface AccessKeyGrant {
  readonly actions: readonly string[];
  readonly certificates: readonly string[];
  readonly warehouses: ReadonlyArray<number | '*'>;
  readonly maxCertificates?: number;
}

/** Everything allowed: what the demo key may do, and the starting point `access-keys create` prints to narrow. */
export const ALLOW_ALL: AccessKeyGrant = { actions: ['*'], certificates: ['*'], warehouses: ['*'] };

/** The comment written above each permission of a generated access key, so the operator sees what it grants. */
const FIELD_COMMENTS: Record<string, string> = {
  actions: ' actions: RAM actions it may call: "*", "kms:*", "yundun-cert:*", "kms:CertificatePrivateKeySign", ...',
  certificates: ' certificates: certificate identifiers it may use, or "*" (certificates created later included)',
  warehouses: ' warehouses: tokens (warehouseId) where its CreateCertificate may create keys, or "*"',
  maxCertificates: ' maxCertificates: most certificates it may create (QuotaExceeded past it)',
};

/**
 * Writes the comments of FIELD_COMMENTS above the permissions of a generated access key (lists and the secret
 * reference in flow style), and says how to bound its creations when `maxCertificates` is not set. Every key:
 * docs/configuration.md.
 */
export function commentAccessKey(key: YAMLMap): void {
  for (const pair of key.items) {
    if (!isScalar(pair.key)) continue;
    const comment = FIELD_COMMENTS[String(pair.key.value)];
    if (comment) pair.key.commentBefore = comment;
    if (isSeq(pair.value) || isMap(pair.value)) pair.value.flow = true;
  }
  if (!key.has('maxCertificates'))
    key.comment = ' maxCertificates: N would bound how many certificates it may create (unset: no limit)';
}

/**
 * The `auth.accessKeys` entry for a new key, as commented YAML ready to paste into a config: the secret is named
 * by an environment variable (never written in the config), and every permission is spelled out.
 */
export function accessKeyConfigSnippet(accessKeyId: string, grant: AccessKeyGrant): string {
  const entry = {
    id: accessKeyId,
    secret: { env: `P11BRIDGE_SECRET_${accessKeyId.slice(-6).toUpperCase()}` },
    actions: [...grant.actions],
    certificates: [...grant.certificates],
    warehouses: [...grant.warehouses],
    ...(grant.maxCertificates === undefined ? {} : { maxCertificates: grant.maxCertificates }),
  };
  const doc = new Document({ auth: { accessKeys: [entry] } });
  doc.commentBefore =
    ' config.yaml: store the secret in a file or an environment variable, never in the config itself.\n' +
    ' Grant the least the caller needs; every key: docs/configuration.md (auth.accessKeys).';
  const key = doc.getIn(['auth', 'accessKeys', 0], true);
  if (isMap(key)) commentAccessKey(key);
  return doc.toString();
}
