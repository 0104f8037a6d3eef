import { ApiError } from '../../errors/apiError';
import type { Located } from '../../token/tokenRegistry';
import type { OpContext } from '../types';

/** Finds a KMS `CertificateId` on any token; unknown is KMS's `Certificate.NotFound` (404). */
export function locateKms(ctx: OpContext, certificateId: string): Located {
  const located = ctx.tokens.locate(certificateId);
  if (!located) throw new ApiError('Certificate.NotFound');
  return located;
}
