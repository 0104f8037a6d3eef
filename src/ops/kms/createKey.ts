import { z } from 'zod';
import { keyMetadata } from '../../identities/keys/facts';
import { createKey as create } from '../../identities/keys/lifecycle';
import { ApiError } from '../../errors/apiError';
import { parseTags, refuseDryRun } from '../shared/keys';
import { defineOperation, type OpContext } from '../types';
import { keysOf } from '../../identities/keys/keyView';

/** Refuses an access key that has created its `maxKeys` (counted on every token, by each key record's creator). */
function assertKeyQuota(ctx: OpContext): void {
  if (ctx.maxKeys === undefined) return;
  const created = ctx.tokens.tokens.reduce(
    (n, t) => n + keysOf(t).keys.filter((k) => k.record.creator === ctx.accessKeyId).length,
    0,
  );
  if (created >= ctx.maxKeys) {
    throw new ApiError(
      'QuotaExceeded',
      `This AccessKey has created ${created} keys; its limit (accessKeys[].maxKeys) is ${ctx.maxKeys}.`,
    );
  }
}

/**
 * KMS `CreateKey` (2016-01-20): an asymmetric key whose first version is a key pair generated in the token.
 * Symmetric specs (the cloud's default `Aliyun_AES_256`), `Origin=EXTERNAL` and automatic rotation are
 * `Rejected.UnsupportedOperation`.
 */
export const createKey = defineOperation({
  product: 'kms',
  action: 'CreateKey',
  ramAction: 'kms:CreateKey',
  params: z.object({
    KeySpec: z.string().default('Aliyun_AES_256'),
    KeyUsage: z.string().optional(),
    Origin: z.string().optional(),
    ProtectionLevel: z.string().optional(),
    Description: z.string().max(8192).default(''),
    EnableAutomaticRotation: z.string().optional(),
    Tags: z.string().optional(),
    DryRun: z.string().optional(),
  }),
  async handle(ctx, p) {
    refuseDryRun(p.DryRun);
    if (p.Origin !== undefined && p.Origin !== 'Aliyun_KMS') {
      throw new ApiError('UnsupportedOperation', 'Origin EXTERNAL (imported key material) is not supported.');
    }
    if (p.EnableAutomaticRotation === 'true') {
      throw new ApiError('UnsupportedOperation', 'Automatic rotation is not supported; use CreateKeyVersion.');
    }
    const tags = parseTags(p.Tags);
    assertKeyQuota(ctx);
    const candidates = ctx.tokens.tokens.filter((t) => ctx.canCreateIn(t.warehouseId));
    // A key allowed in no warehouse is refused for that (403 Forbidden.RAM), not told that no token can do it.
    const first = ctx.tokens.tokens[0];
    if (candidates.length === 0 && first) ctx.assertCanCreateIn(first.warehouseId);
    const key = await create(candidates, {
      keySpec: p.KeySpec,
      keyUsage: p.KeyUsage,
      description: p.Description,
      tags,
      scope: ctx.config.server,
      creator: ctx.accessKeyId,
    });
    return { KeyMetadata: keyMetadata(key, ctx.config.server.accountId) };
  },
});
