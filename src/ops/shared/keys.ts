import { z } from 'zod';
import type { KmsKey } from '../../identities/keys/keyView';
import { resolveKey } from '../../identities/keys/resolve';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { OpContext } from '../types';

/**
 * The resource name an access key's `certificates` list uses for a KMS key: `key/<KeyId>` (decision 0016), so
 * that a list of certificate ids never grants a key by accident; `*` grants every key.
 */
export function keyResource(keyId: string): string {
  return `key/${keyId}`;
}

/** Resolves a `KeyId` parameter (id, alias, ARN) and checks that the access key may use the key. */
export function locateKey(ctx: OpContext, ref: string): KmsKey {
  const key = resolveKey(ctx.tokens, ref, ctx.config.server);
  ctx.assertCanUse(keyResource(key.keyId));
  return key;
}

/** `PageNumber` (≥ 1, default 1) and `PageSize` (1–100, default 10), as KMS list operations take them. */
export const pagingParams = {
  PageNumber: z.string().regex(/^\d+$/).optional(),
  PageSize: z.string().regex(/^\d+$/).optional(),
};

/** One page of `items`, and the paging fields of the response. */
export function page<T>(
  items: readonly T[],
  p: { PageNumber?: string | undefined; PageSize?: string | undefined },
): { items: T[]; fields: { PageNumber: number; PageSize: number; TotalCount: number } } {
  const number = p.PageNumber === undefined ? 1 : Number(p.PageNumber);
  const size = p.PageSize === undefined ? 10 : Number(p.PageSize);
  if (number < 1) throw invalidParameter('PageNumber', 'must be 1 or more.');
  if (size < 1 || size > 100) throw invalidParameter('PageSize', 'must be from 1 to 100.');
  const start = (number - 1) * size;
  return {
    items: items.slice(start, start + size),
    fields: { PageNumber: number, PageSize: size, TotalCount: items.length },
  };
}

/**
 * `DryRun=true` on CreateKey is refused: the cloud's CreateKey has no DryRun (alibaba-kms-keys.md §5.2), and a
 * caller who asked for a dry run must not get a key generated (decision 0023).
 */
export function refuseDryRun(value: string | undefined): void {
  if (value === 'true') throw new ApiError('UnsupportedOperation', 'DryRun is not supported by p11bridge.');
}

/** KMS `Tags`: a JSON array of `{"TagKey","TagValue"}` (at most 20), as a map. */
export function parseTags(value: string | undefined): Record<string, string> {
  if (value === undefined || value.trim() === '') return {};
  const shape = 'expected a JSON array of {"TagKey":"…","TagValue":"…"}, at most 20.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidParameter('Tags', shape);
  }
  const tag = z.object({ TagKey: z.string().min(1).max(128), TagValue: z.string().max(256) });
  const r = z.array(tag).max(20).safeParse(parsed);
  if (!r.success) throw invalidParameter('Tags', shape);
  return Object.fromEntries(r.data.map((t) => [t.TagKey, t.TagValue]));
}
