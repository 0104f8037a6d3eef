import { z } from 'zod';
import { keyMetadata } from '../../identities/keys/facts';
import { createKey as create } from '../../identities/keys/lifecycle';
import { ApiError } from '../../errors/apiError';
import { parseTags, refuseDryRun } from '../shared/keys';
import { defineOperation } from '../types';

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
    const candidates = ctx.tokens.tokens.filter((t) => ctx.canCreateIn(t.warehouseId));
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
