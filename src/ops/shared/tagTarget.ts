import { z } from 'zod';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { KmsKey } from '../../identities/keys/keyView';
import type { Located } from '../../token/tokenRegistry';
import { locateKey } from './keys';
import { locateKms } from './lookup';
import type { OpContext } from '../types';

/** The resource parameters of TagResource/UntagResource: exactly one of them (KMS 2016-01-20). */
export const tagTargetParams = {
  KeyId: z.string().min(1).optional(),
  CertificateId: z.string().min(1).optional(),
  SecretName: z.string().min(1).optional(),
};

/** The resource a tag call names: a KMS key or a certificate. */
export type TagTarget =
  { readonly kind: 'key'; readonly key: KmsKey } | { readonly kind: 'certificate'; readonly located: Located };

/**
 * Resolves the one resource named by `KeyId` (id, alias, ARN), `CertificateId` or `SecretName`. None or more than
 * one is `InvalidParameter`; a secret is `Rejected.UnsupportedOperation` (p11bridge serves no secrets). The
 * access key must be allowed the resource (keys as `key/<KeyId>`, certificates by id: decision 0016).
 */
export function tagTarget(
  ctx: OpContext,
  p: { KeyId?: string | undefined; CertificateId?: string | undefined; SecretName?: string | undefined },
): TagTarget {
  const named = [p.KeyId, p.CertificateId, p.SecretName].filter((v) => v !== undefined).length;
  if (named !== 1) throw invalidParameter('KeyId', 'name exactly one of KeyId, CertificateId or SecretName.');
  if (p.SecretName !== undefined) throw new ApiError('UnsupportedOperation', 'p11bridge serves no secrets.');
  if (p.KeyId !== undefined) return { kind: 'key', key: locateKey(ctx, p.KeyId) };
  const id = p.CertificateId as string;
  ctx.assertCanUse(id);
  return { kind: 'certificate', located: locateKms(ctx, id) };
}
