import { ApiError } from '../../errors/apiError';
import type { TokenRegistry } from '../../token/tokenRegistry';
import { keysOf, type DamagedKey, type KmsKey } from './keyView';

/** Where ARNs point: `acs:kms:<regionId>:<accountId>:key/<keyId>` (and `…:alias/<name>`). */
export interface ArnScope {
  readonly regionId: string;
  readonly accountId: string;
}

/** The KMS `Arn` of a key. */
export function keyArn(scope: ArnScope, keyId: string): string {
  return `acs:kms:${scope.regionId}:${scope.accountId}:key/${keyId}`;
}

/** The KMS `AliasArn` of an alias (`alias/name` → `acs:kms:<region>:<account>:alias/name`). */
export function aliasArn(scope: ArnScope, aliasName: string): string {
  return `acs:kms:${scope.regionId}:${scope.accountId}:${aliasName}`;
}

/**
 * A key that is PendingDeletion and whose window has ended is gone for every caller, even before the periodic
 * purge has destroyed its objects (lifecycle.ts purgeExpiredKeys).
 */
function isExpired(key: KmsKey, now: Date): boolean {
  const d = key.record.deleteDate;
  return key.record.state === 'PendingDeletion' && d !== undefined && Date.parse(d) <= now.getTime();
}

/** Every live KMS key on every token (from memory), in token order then record order, and the damaged ones. */
export function allKeys(tokens: TokenRegistry, now: Date = new Date()): { keys: KmsKey[]; damaged: DamagedKey[] } {
  const keys: KmsKey[] = [];
  const damaged: DamagedKey[] = [];
  // Tokens that are not ready are searched too (their last index is in memory): a call on such a key then gets the
  // token's own fault (503 ServiceUnavailableTemporary), not a misleading 404.
  for (const token of tokens.tokens) {
    const r = keysOf(token);
    keys.push(...r.keys.filter((k) => !isExpired(k, now)));
    damaged.push(...r.damaged);
  }
  return { keys, damaged };
}

const ARN = /^acs:kms:([^:]*):([^:]*):(key\/.+|alias\/.+)$/;

/**
 * The key a `KeyId` parameter names: a key id, an alias (`alias/…`) or an ARN of either in this daemon's region
 * and account (alibaba-kms-keys.md §5.2). Unknown: `404 Forbidden.KeyNotFound` (alias: `Forbidden.AliasNotFound`).
 * A key whose record on the token is damaged or duplicated is refused (fail closed), never guessed.
 */
export function resolveKey(tokens: TokenRegistry, ref: string, scope: ArnScope, now: Date = new Date()): KmsKey {
  let name = ref;
  const arn = ARN.exec(ref);
  if (arn) {
    if (arn[1] !== scope.regionId || arn[2] !== scope.accountId) {
      throw new ApiError(
        arn[3]?.startsWith('alias/') ? 'Forbidden.AliasNotFound' : 'Forbidden.KeyNotFound',
        `The ARN ${ref} is not in region ${scope.regionId} of account ${scope.accountId}.`,
      );
    }
    name = (arn[3] as string).startsWith('key/') ? (arn[3] as string).slice(4) : (arn[3] as string);
  }
  const { keys, damaged } = allKeys(tokens, now);
  if (name.startsWith('alias/')) {
    const hit = keys.find((k) => k.record.aliases.includes(name));
    if (!hit) throw new ApiError('Forbidden.AliasNotFound');
    return hit;
  }
  const hit = keys.find((k) => k.keyId === name);
  if (hit) return hit;
  if (damaged.some((d) => d.keyId === name)) {
    throw new ApiError(
      'Rejected.Disabled',
      'The request was rejected because the key cannot be used: its record on the token needs an operator.',
    );
  }
  throw new ApiError('Forbidden.KeyNotFound');
}
