/** Which certificate a call names: KMS's `CertificateId`, CAS's identifier parameters. */
import { z } from 'zod';
import { ApiError, invalidParameter, missingParameter } from '../../errors/apiError';
import type { Located, TokenRegistry } from '../../token/tokenRegistry';
import type { OpContext } from '../types';

/** Finds a KMS `CertificateId` on any token; unknown is KMS's `Certificate.NotFound` (404). */
export function locateKms(ctx: OpContext, certificateId: string): Located {
  const located = ctx.tokens.locate(certificateId);
  if (!located) throw new ApiError('Certificate.NotFound');
  return located;
}

/** The parameters every CAS call on one certificate takes to name it (spread into its schema). */
export const casCertificateSelector = {
  CertIdentifier: z.string().min(1).optional(),
  CustomIdentifier: z.string().min(1).optional(),
  WarehouseId: z.coerce.number().int().positive().optional(),
};

/**
 * Finds the certificate of a CAS call: `CertIdentifier`, or `CustomIdentifier` (a unique key, optionally
 * within `WarehouseId`). Unknown: CAS's `NotFound` (400), its public error table's code.
 */
export function locateCas(
  tokens: TokenRegistry,
  p: { CertIdentifier?: string | undefined; CustomIdentifier?: string | undefined; WarehouseId?: number | undefined },
): Located {
  if (p.WarehouseId !== undefined && !tokens.byWarehouse(p.WarehouseId)) {
    throw invalidParameter('WarehouseId', `no warehouse ${p.WarehouseId}.`);
  }
  let located: Located | undefined;
  if (p.CertIdentifier !== undefined) located = tokens.locate(p.CertIdentifier, p.WarehouseId);
  else if (p.CustomIdentifier !== undefined)
    located =
      tokens.locateCustom(p.CustomIdentifier, p.WarehouseId) ?? tokens.locate(p.CustomIdentifier, p.WarehouseId);
  else throw missingParameter('CertIdentifier');
  if (!located) throw new ApiError('NotFound');
  return located;
}
