import { z } from 'zod';
import { defineOperation } from '../types';

/**
 * CAS `GetCertWarehouseQuota` (2020-04-07): `UseCount` = the certificate identities held by all warehouses
 * (tokens); `TotalQuota` = -1, "no quota": the tokens' own storage is the only limit and PKCS#11 does not
 * report it reliably (SoftHSM2 answers CK_UNAVAILABLE_INFORMATION).
 */
export const getCertWarehouseQuota = defineOperation({
  product: 'cas',
  action: 'GetCertWarehouseQuota',
  ramAction: 'yundun-cert:GetCertWarehouseQuota',
  params: z.object({}),
  async handle(ctx) {
    const useCount = ctx.tokens.tokens.reduce((n, token) => n + token.entries().length, 0);
    return { TotalQuota: -1, UseCount: useCount };
  },
});
