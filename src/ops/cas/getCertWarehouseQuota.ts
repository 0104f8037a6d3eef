import { z } from 'zod';
import type { GetCertWarehouseQuotaResult } from '../results';
import { defineOperation } from '../types';

/**
 * CAS `GetCertWarehouseQuota` (2020-04-07): `UseCount` = the certificate identities held by all warehouses
 * (tokens); `TotalQuota` = the sum of the tokens' configured `warehouse.quota`, a number a client can subtract
 * from (PKCS#11 does not report a token's free storage reliably: SoftHSM2 answers CK_UNAVAILABLE_INFORMATION).
 */
export const getCertWarehouseQuota = defineOperation({
  product: 'cas',
  action: 'GetCertWarehouseQuota',
  ramAction: 'yundun-cert:GetCertWarehouseQuota',
  params: z.object({}),
  async handle(ctx): Promise<GetCertWarehouseQuotaResult> {
    const useCount = ctx.tokens.tokens.reduce((n, token) => n + token.entries().length, 0);
    const total = ctx.tokens.tokens.reduce((n, token) => n + token.config.warehouse.quota, 0);
    return { TotalQuota: total, UseCount: useCount };
  },
});
