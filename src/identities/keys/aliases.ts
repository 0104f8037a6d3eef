import { ApiError, invalidParameter } from '../../errors/apiError';
import type { TokenRegistry } from '../../token/tokenRegistry';
import type { KmsKey } from './keyView';
import { updateRecord } from './lifecycle';
import { allKeys } from './resolve';

/** Most aliases one key may carry (the cloud's quota is 50 per key). */
const MAX_ALIASES_PER_KEY = 50;

const ALIAS = /^alias\/[a-zA-Z0-9:/_-]{1,249}$/;

/** Checks an `AliasName`: `alias/` + 1–249 of `[a-zA-Z0-9:/_-]`, total ≤ 255, never `alias/acs…` (reserved). */
export function checkAliasName(name: string): void {
  if (!ALIAS.test(name)) {
    throw invalidParameter('AliasName', 'expected alias/ followed by 1 to 249 letters, digits, ":", "/", "_" or "-".');
  }
  if (name.startsWith('alias/acs')) throw invalidParameter('AliasName', 'names starting with alias/acs are reserved.');
}

/** The key carrying an alias, on any token. */
export function keyOfAlias(tokens: TokenRegistry, name: string): KmsKey | undefined {
  return allKeys(tokens).keys.find((k) => k.record.aliases.includes(name));
}

/** KMS CreateAlias: a new alias for a key; an alias already in use is `409 Rejected.AlreadyExists`. */
export async function createAlias(tokens: TokenRegistry, key: KmsKey, name: string): Promise<void> {
  checkAliasName(name);
  if (keyOfAlias(tokens, name)) throw new ApiError('Rejected.AlreadyExists', `The alias ${name} already exists.`);
  if (key.record.aliases.length >= MAX_ALIASES_PER_KEY) {
    throw new ApiError('UnsupportedOperation', `A key carries at most ${MAX_ALIASES_PER_KEY} aliases.`);
  }
  await updateRecord(key, (r) => ({ ...r, aliases: [...r.aliases.filter((a) => a !== name), name] }));
}

/**
 * KMS UpdateAlias: points an existing alias at another key. The new key's record gains it first, then the old
 * key's record loses it: a crash in between leaves the alias on both (resolved to the first, and repaired by the
 * next UpdateAlias or DeleteAlias), never on none.
 */
export async function updateAlias(tokens: TokenRegistry, key: KmsKey, name: string): Promise<void> {
  checkAliasName(name);
  const current = keyOfAlias(tokens, name);
  if (!current) throw new ApiError('Forbidden.AliasNotFound');
  if (current.keyId === key.keyId) return;
  await updateRecord(key, (r) => ({ ...r, aliases: [...r.aliases.filter((a) => a !== name), name] }));
  await updateRecord(current, (r) => ({ ...r, aliases: r.aliases.filter((a) => a !== name) }));
}

/** KMS DeleteAlias: removes the alias from every key that carries it. */
export async function deleteAlias(tokens: TokenRegistry, name: string): Promise<void> {
  const carriers = allKeys(tokens).keys.filter((k) => k.record.aliases.includes(name));
  if (carriers.length === 0) throw new ApiError('Forbidden.AliasNotFound');
  for (const k of carriers) await updateRecord(k, (r) => ({ ...r, aliases: r.aliases.filter((a) => a !== name) }));
}
